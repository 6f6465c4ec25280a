// A flood of JSON-RPC batches from clients that do not read, against a daemon
// with the default settings, while the resident memory of the daemon and its
// sandbox processes is read every 25 ms (test/helpers/batch-floods.ts). A
// batch's replies are bounded like single replies: counted against MAX_UNSENT
// as they are made, in a reply frame of at most MAX_FRAME. bench/batch-floods.ts
// measures this flood and others beside the same work sent as single requests.
import assert from 'node:assert/strict';
import { measure, unreadMbBatches } from './helpers/batch-floods.js';
import { mib } from './helpers/rss.js';

/**
 * What the daemon process may grow by: three reply frames of MAX_FRAME, and the
 * 180 MB of results passing through it before its collector catches up (180
 * single requests for the same results, read as they come, grow it by about
 * 100-140 MiB); main held every result, and grew by 590 MiB.
 */
const DAEMON_GROWTH_LIMIT = 320 * 1024 * 1024;

describe('a flood of JSON-RPC batches from clients that do not read, against the default settings, with RSS sampled', function () {
  this.timeout(120000);

  it('three clients that do not read, each sending one batch of 60 requests for 1 MB results: the daemon does not hold their replies (a frame of MAX_FRAME per batch, MAX_UNSENT per connection)', async function () {
    const { growth } = await measure(unreadMbBatches);
    this.test!.title +=
      ` (the daemon grew by ${mib(growth.daemon)}, with its sandboxes by ${mib(growth.total)} past ${mib(growth.idle)} idle)`;
    assert.ok(growth.daemon < DAEMON_GROWTH_LIMIT, `the daemon grew by ${mib(growth.daemon)}`);
  });
});
