// Scale-out for real: two daemons behind HAProxy on loopback. One is killed
// with SIGKILL mid-load; clients that reconnect and resend what went unanswered
// (javascriptd/client) get every call answered exactly once, by the survivor.
// Pending where HAProxy is not installed (failing under JAVASCRIPTD_REQUIRE_ENGINES=1).
import assert from 'node:assert/strict';
import { connect } from '../src/client/index.js';
import { type RunningDaemon, startDaemon } from './helpers/daemon.js';
import { describeWithEngine, haproxyMissing } from './helpers/engines.js';
import { type RunningProxy, startHaproxy } from './helpers/haproxy.js';

const SECRET = 'scale-out-secret';
const CALLS = 600;
const LANES = 6;
const IN_FLIGHT = 4;

/**
 * One client through the balancer running `calls`, IN_FLIGHT at a time. When
 * its connection drops it reconnects with backoff and resends the calls that
 * had no reply (javascriptd/client's resendUnanswered); each value is recorded.
 */
async function lane(url: string, calls: number[], values: Map<number, unknown[]>, onReply: () => void): Promise<void> {
  const rt = await connect(url, { secret: SECRET, resendUnanswered: true, reconnect: { retries: 50, minDelayMs: 20, maxDelayMs: 500 } });
  const queue = [...calls];
  const worker = async () => {
    for (let n = queue.shift(); n !== undefined; n = queue.shift()) {
      const { value } = await rt.execute({ code: 'n * 2', globals: { n } });
      values.set(n, [...(values.get(n) ?? []), value]);
      onReply();
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  await rt.close();
}

function executions(daemon: RunningDaemon): number {
  return daemon.logs().filter((line) => line.msg === 'execution' && line.outcome === 'ok').length;
}

describeWithEngine('scale-out behind HAProxy', haproxyMissing, function () {
  this.timeout(60000);
  let daemons: RunningDaemon[] = [];
  let proxy: RunningProxy | undefined;

  before(async () => {
    daemons = await Promise.all([startDaemon({ SECRET }), startDaemon({ SECRET })]);
    proxy = await startHaproxy(daemons.map((daemon) => daemon.port));
  });

  after(async () => {
    await proxy?.stop();
    await Promise.all(daemons.map((daemon) => daemon.stop('SIGKILL')));
  });

  it('spreads calls over both daemons; after one is SIGKILLed mid-load, retries land every call once on the survivor', async () => {
    const [victim, survivor] = daemons;
    const values = new Map<number, unknown[]>();
    let answered = 0;
    const kill = () => {
      if (++answered === CALLS / 4) victim.process.kill('SIGKILL');
    };
    const numbers = Array.from({ length: CALLS }, (_, i) => i + 1);
    await Promise.all(
      Array.from({ length: LANES }, (_, lane_) =>
        lane(
          proxy!.url,
          numbers.filter((n) => n % LANES === lane_),
          values,
          kill,
        ),
      ),
    );

    assert.equal(await victim.stop(), null, 'the victim was killed by a signal');
    // Stopped, so every line it logged has been read (a reply can overtake its log line).
    await survivor.stop();
    // Counted from each daemon's log. The victim's is a lower bound: pino writes
    // asynchronously, so its last lines may have died with it.
    const [byVictim, bySurvivor] = [executions(victim), executions(survivor)];
    assert.ok(byVictim > 0, `the victim served calls before it was killed (${byVictim})`);
    // Every call unanswered at the kill, except replies already on their way, ran on the survivor.
    const afterKill = CALLS - CALLS / 4 - LANES * IN_FLIGHT;
    assert.ok(bySurvivor >= afterKill, `survivor ran ${bySurvivor} executions, expected at least ${afterKill}`);
    for (const n of numbers) assert.deepEqual(values.get(n), [n * 2], `call ${n}`);
  });
});
