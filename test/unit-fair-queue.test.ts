// Unit tests of the execution queue's fairness and bounds (src/runtime/fair-queue.ts). They start nothing.
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

describe('unit: FairQueue', () => {
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
    assert.equal(
      queue.takeNext(
        () => true,
        () => false,
      ),
      false,
    );
    assert.equal(queue.size, 3);
    assert.equal(
      take(queue, (client) => client !== 'a'),
      'b1',
    );
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

  it('evicts from several clients, most first, until the newcomer fits, and says which', () => {
    const queue = new FairQueue<string>({ items: 6, bytes: 1000 });
    for (const item of ['a1', 'a2', 'a3']) admitted(queue.push('a', item, 1));
    for (const item of ['b1', 'b2', 'b3']) admitted(queue.push('b', item, 1));
    // Full: c's first item evicts the newest of the first client holding the most.
    assert.deepEqual(admitted(queue.push('c', 'c1', 1)), ['a3']);
    assert.deepEqual(admitted(queue.push('c', 'c2', 1)), ['b3']);
    assert.equal(queue.size, 6);
    assert.deepEqual(queue.clear().sort(), ['a1', 'a2', 'b1', 'b2', 'c1', 'c2']);
  });

  it('frees items and bytes as they are taken, so the bounds hold again', () => {
    const queue = new FairQueue<string>({ items: 2, bytes: 10 });
    admitted(queue.push('a', 'a1', 6));
    admitted(queue.push('a', 'a2', 4));
    assert.equal(queue.push('a', 'a3', 1).admitted, false);
    assert.equal(take(queue), 'a1');
    assert.deepEqual(admitted(queue.push('a', 'a3', 6)), []);
    assert.equal(queue.size, 2);
  });

  it('takes out one queued item, keeping the others in order, and frees its share', () => {
    const queue = new FairQueue<{ n: number }>({ items: 3, bytes: 30 });
    const items = [{ n: 1 }, { n: 2 }, { n: 3 }];
    for (const item of items) admitted(queue.push('a', item, 10));
    assert.equal(queue.removeItem('a', items[1]), true);
    assert.equal(queue.removeItem('a', items[1]), false);
    assert.equal(queue.removeItem('a', { n: 1 }), false, 'by identity, not by value');
    assert.equal(queue.removeItem('nobody', items[0]), false);
    assert.equal(queue.size, 2);
    admitted(queue.push('b', { n: 9 }, 10));
    assert.deepEqual([take(queue), take(queue), take(queue)], [{ n: 1 }, { n: 9 }, { n: 3 }]);
  });

  it('forgets a client whose last item is taken out, so it starts at the back of the turn', () => {
    const queue = new FairQueue<string>({ items: 10, bytes: 100 });
    admitted(queue.push('a', 'a1', 1));
    admitted(queue.push('b', 'b1', 1));
    assert.equal(queue.removeItem('a', 'a1'), true);
    admitted(queue.push('a', 'a2', 1));
    assert.deepEqual([take(queue), take(queue)], ['b1', 'a2']);
  });

  it('lets a removed client go: it is held no more, and its bytes are free', () => {
    const queue = new FairQueue<string>({ items: 10, bytes: 10 });
    admitted(queue.push('a', 'a1', 10));
    queue.hold('a', true);
    assert.deepEqual(queue.remove('a'), ['a1']);
    assert.deepEqual(queue.remove('a'), []);
    admitted(queue.push('a', 'a2', 10));
    assert.equal(take(queue), 'a2');
  });

  it('evicts nothing for a newcomer it then refuses: what it had to evict stays queued, in its order', () => {
    const queue = new FairQueue<string>({ items: 20, bytes: 100 });
    const hog = ['h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'h7'];
    for (const item of hog) admitted(queue.push('hog', item, 10));
    admitted(queue.push('b', 'b1', 25));
    // 95 bytes queued; 50 more need 45 freed. Hog gives way while it holds more than the newcomer would (50):
    // two items, then it holds 50, 25 short, and nobody else holds more.
    const refused = queue.push('c', 'c1', 50);
    assert.deepEqual(refused, { admitted: false, reason: 'the execution queue is full (QUEUE_BYTES)' });
    assert.equal(queue.size, 8);
    const taken = Array.from({ length: 8 }, () => take(queue));
    assert.deepEqual(
      taken.filter((item) => item?.startsWith('h')),
      hog,
    );
    assert.ok(taken.includes('b1'));
    // Nothing was lost: the queue's bytes are all free again.
    admitted(queue.push('c', 'c1', 100));
  });
});
