import type { Scenario } from '../results.js';
import { fanoutScenario } from './fanout.js';
import { heldScenario } from './held.js';
import { reconnectScenario } from './reconnect.js';
import { sustainedScenario } from './sustained.js';

/** Every scenario, in the order they run. */
export const scenarios: readonly Scenario[] = [heldScenario, fanoutScenario, sustainedScenario, reconnectScenario];
