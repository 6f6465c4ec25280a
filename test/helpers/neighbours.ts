// Neighbours for the tests that a fault costs only its own execution: each has
// fetched from a gate of its own and waits there, so a silent re-run shows as a
// second request at its gate, and a lost answer as a wrong reply once its gate
// opens.
import assert from 'node:assert/strict';
import type { Reply, TestClient } from './client.js';
import type { Gates, TestServer } from './http-server.js';
import { until } from './poll.js';

/** A reply's value and console, or its error: what a neighbour's answer is compared by. */
export function outcome(reply: Reply): unknown {
  return reply.error ?? { value: reply.payload?.value, console: reply.payload?.console };
}

export interface Neighbours {
  /** Opens their gates; asserts each answered its own value and console and asked its gate once. */
  answer(): Promise<void>;
}

/** `count` executions on `client` named `${tag}-${i}`, started and waiting at their gates when this resolves. */
export async function fetchedNeighbours(
  client: TestClient,
  server: TestServer,
  gates: Gates,
  tag: string,
  count: number,
): Promise<Neighbours> {
  const names = Array.from({ length: count }, (_, i) => `${tag}-${i}`);
  const asked = (name: string) => server.seen.filter((s) => s.url === `/gate/${name}`).length;
  const replies = names.map((name) =>
    client.execute({
      code: `async function h() { console.log("${name} fetching"); const text = await (await fetch("${server.origin}/gate/${name}")).text(); console.log("${name}", text); return "${name}"; }`,
      call: 'h',
      // However long a busy machine takes; the test opens the gates.
      timeout: 20000,
    }),
  );
  await until(() => names.every((name) => asked(name) > 0), `the ${count} neighbours (${tag}) waiting at their gates`);
  return {
    async answer() {
      for (const name of names) gates.release(name);
      assert.deepEqual(
        (await Promise.all(replies)).map(outcome),
        names.map((name) => ({ value: name, console: [`${name} fetching`, `${name} open`] })),
      );
      assert.deepEqual(
        names.map(asked),
        names.map(() => 1),
        'each neighbour asked its gate once: none ran again',
      );
    },
  };
}
