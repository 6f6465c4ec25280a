// The execution queue's fairness and bounds (src/runtime/fair-queue.ts).
import assert from 'node:assert/strict';
import { type Admission, FairQueue } from '../src/runtime/fair-queue.js';

/** The item the queue offers next, taken. */
function take<T>(queue: FairQueue<T>, mayTake: (client: string) => boolean = () => true): T | undefined {
  let taken: T | undefined;
  queue.takeNext(mayTake, (item) => {
    taken = item;
    return true;
  });
  return taken;
}

function admitted<T>(admission: Admission<T>): T[] {
  assert.ok(admission.admitted, admission.admitted ? '' : admission.reason);
  return admission.evicted;
}

describe('FairQueue', () => {
  it('takes turns across clients, each in its own order', () => {
    const queue = new FairQueue<string>({ items: 10, bytes: 1000 });
    for (const item of ['a1', 'a2', 'a3']) admitted(queue.push('a', item, 1));
    for (const item of ['b1', 'b2']) admitted(queue.push('b', item, 1));
    const order = Array.from({ length: 5 }, () => take(queue));
    assert.deepEqual(order, ['a1', 'b1', 'a2', 'b2', 'a3']);
    assert.equal(take(queue), undefined);
  });

  it('when full, evicts the newest item of the client holding the most, never one holding as little as the newcomer', () => {
    const queue = new FairQueue<string>({ items: 4, bytes: 1000 });
    for (const item of ['h1', 'h2', 'h3']) admitted(queue.push('hog', item, 1));
    admitted(queue.push('light', 'l1', 1));
    assert.deepEqual(admitted(queue.push('light', 'l2', 1)), ['h3']);
    // hog 2, light 2: a third for light would give it more than hog holds.
    const refused = queue.push('light', 'l3', 1);
    assert.deepEqual(refused, { admitted: false, reason: 'the execution queue is full' });
    assert.equal(queue.size, 4);
  });

  it('bounds the bytes queued the same way, and refuses an item larger than the whole queue', () => {
    const queue = new FairQueue<string>({ items: 100, bytes: 100 });
    admitted(queue.push('hog', 'h1', 40));
    admitted(queue.push('hog', 'h2', 40));
    assert.deepEqual(admitted(queue.push('light', 'l1', 30)), ['h2']);
    assert.deepEqual(queue.push('light', 'l2', 101), { admitted: false, reason: 'the request is larger than the whole execution queue' });
    assert.deepEqual(queue.push('light', 'l2', 50), { admitted: false, reason: 'the execution queue is full (QUEUE_BYTES)' });
  });

  it('keeps its order when the next item is declined, and skips clients the caller does not allow', () => {
    const queue = new FairQueue<string>({ items: 10, bytes: 1000 });
    for (const item of ['a1', 'a2']) admitted(queue.push('a', item, 1));
    admitted(queue.push('b', 'b1', 1));
    assert.equal(queue.takeNext(() => true, () => false), false);
    assert.equal(queue.size, 3);
    assert.equal(take(queue, (client) => client !== 'a'), 'b1');
    assert.equal(take(queue), 'a1');
  });

  it('skips a held client until it is let go, and forgets a removed one', () => {
    const queue = new FairQueue<string>({ items: 10, bytes: 1000 });
    admitted(queue.push('slow', 's1', 1));
    admitted(queue.push('other', 'o1', 1));
    queue.hold('slow', true);
    assert.equal(take(queue), 'o1');
    assert.equal(take(queue), undefined);
    queue.hold('slow', false);
    assert.equal(take(queue), 's1');
    admitted(queue.push('gone', 'g1', 5));
    assert.deepEqual(queue.remove('gone'), ['g1']);
    assert.equal(queue.size, 0);
    admitted(queue.push('next', 'n1', 1000));
  });
});
