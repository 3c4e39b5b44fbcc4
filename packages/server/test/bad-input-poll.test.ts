// Bad input to GET /pns/poll: each row of the poll table gets a catalog error and leaves the server healthy.

import { pollRows } from './support/bad-input-rows-poll.js';
import { badInputSuite, rowSuite } from './support/bad-input-table.js';

badInputSuite((base) => {
  rowSuite('#GET /pns/poll', pollRows, base);
});
