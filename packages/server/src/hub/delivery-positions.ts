import type { StreamPosition } from '@pns/protocol';
import type { Delivery } from './subscription.js';

/**
 * Calls `visit` after each entry of a delivery with where the subscriber
 * stands once it has that entry and the ones before it: resuming from those
 * positions yields exactly the entries after it. A streaming transport that
 * gives every message its own resume point (an SSE event id) encodes each.
 * `positions` is one map updated in place: read it during the call.
 *
 * Before the entry that first moves a channel, the channel stands where it
 * stood before the delivery; a channel no entry moves stands at its final
 * position throughout (nothing was there to deliver).
 */
export function forEachPositions(delivery: Delivery, visit: (index: number, positions: ReadonlyMap<string, StreamPosition>) => void): void {
  const last = delivery.entries.length - 1;
  const steps = delivery.steps;
  if (!steps) {
    if (last >= 0) visit(last, delivery.positions);
    return;
  }
  const positions = new Map(delivery.positions);
  for (const [channel, position] of steps.base) positions.set(channel, position);
  for (let index = 0; index < last; index++) {
    for (const [channel, position] of steps.moves[index] ?? []) positions.set(channel, position);
    visit(index, positions);
  }
  visit(last, delivery.positions);
}
