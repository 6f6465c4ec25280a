// Round-robin across clients: each client has its own FIFO and clients take
// turns, so one client's flood waits behind itself, not in front of others.
// The queue is bounded in items and in bytes; when it is full, a client
// holding more of it than the newcomer would gives way (its newest items are
// evicted), so no client can lock the others out. A held client keeps its
// items but takes no turns until it is let go.

export interface QueueBounds {
  items: number;
  bytes: number;
}

interface Entry<T> {
  item: T;
  bytes: number;
}

interface Share<T> {
  entries: Entry<T>[];
  bytes: number;
}

export type Admission<T> = { admitted: true; evicted: T[] } | { admitted: false; reason: string };

export class FairQueue<T> {
  // Map order is the rotation: a client that still has items goes to the back.
  private readonly shares = new Map<string, Share<T>>();
  private readonly held = new Set<string>();
  private count = 0;
  private totalBytes = 0;

  constructor(private readonly bounds: QueueBounds) {}

  get size(): number {
    return this.count;
  }

  /** Queues `item` for `client`, evicting the newest items of clients over their share if the queue is full. */
  push(client: string, item: T, bytes: number): Admission<T> {
    if (bytes > this.bounds.bytes) return { admitted: false, reason: 'the request is larger than the whole execution queue' };
    const mine = this.shares.get(client) ?? { entries: [], bytes: 0 };
    const evicted: { client: string; entry: Entry<T> }[] = [];
    // Refused after evicting some (it needed more room than others could give): they were not evicted after all.
    const refuse = (reason: string): Admission<T> => {
      this.restore(evicted);
      return { admitted: false, reason };
    };
    while (this.count + 1 > this.bounds.items) {
      const victim = this.largest(client, (s) => s.entries.length, mine.entries.length + 1);
      if (victim === undefined) return refuse('the execution queue is full');
      evicted.push({ client: victim, entry: this.evict(victim) });
    }
    while (this.totalBytes + bytes > this.bounds.bytes) {
      const victim = this.largest(client, (s) => s.bytes, mine.bytes + bytes);
      if (victim === undefined) return refuse('the execution queue is full (QUEUE_BYTES)');
      evicted.push({ client: victim, entry: this.evict(victim) });
    }
    mine.entries.push({ item, bytes });
    mine.bytes += bytes;
    if (!this.shares.has(client)) this.shares.set(client, mine);
    this.count++;
    this.totalBytes += bytes;
    return { admitted: true, evicted: evicted.map(({ entry }) => entry.item) };
  }

  /**
   * Offers the next item — of the next client whose turn it is, who is not held
   * and whom `mayTake` allows — to `take`. Taken (true), it leaves the queue and
   * its client goes to the back of the turn; declined, everything stays as it is.
   * False if nothing was taken.
   */
  takeNext(mayTake: (client: string) => boolean, take: (item: T) => boolean): boolean {
    for (const [client, share] of this.shares) {
      if (this.held.has(client) || !mayTake(client)) continue;
      const entry = share.entries[0];
      if (!take(entry.item)) return false;
      share.entries.shift();
      share.bytes -= entry.bytes;
      this.shares.delete(client);
      if (share.entries.length > 0) this.shares.set(client, share);
      this.count--;
      this.totalBytes -= entry.bytes;
      return true;
    }
    return false;
  }

  /** A held client's items wait (its replies are not being read); letting it go gives it turns again. */
  hold(client: string, held: boolean): void {
    if (held) this.held.add(client);
    else this.held.delete(client);
  }

  /** Takes out everything a client still has queued. */
  remove(client: string): T[] {
    const share = this.shares.get(client);
    this.shares.delete(client);
    this.held.delete(client);
    if (share === undefined) return [];
    this.count -= share.entries.length;
    this.totalBytes -= share.bytes;
    return share.entries.map((entry) => entry.item);
  }

  /** Takes out one item of `client`; false if it is not queued. */
  removeItem(client: string, item: T): boolean {
    const share = this.shares.get(client);
    const at = share?.entries.findIndex((entry) => entry.item === item) ?? -1;
    if (share === undefined || at < 0) return false;
    const [entry] = share.entries.splice(at, 1);
    share.bytes -= entry.bytes;
    if (share.entries.length === 0) this.shares.delete(client);
    this.count--;
    this.totalBytes -= entry.bytes;
    return true;
  }

  clear(): T[] {
    const all = [...this.shares.values()].flatMap((share) => share.entries.map((entry) => entry.item));
    this.shares.clear();
    this.count = 0;
    this.totalBytes = 0;
    return all;
  }

  /** The client other than `newcomer` holding the most by `measure`, if it holds more than `newcomerWouldHold`. */
  private largest(newcomer: string, measure: (share: Share<T>) => number, newcomerWouldHold: number): string | undefined {
    let found: string | undefined;
    let most = newcomerWouldHold;
    for (const [client, share] of this.shares) {
      if (client !== newcomer && measure(share) > most) {
        found = client;
        most = measure(share);
      }
    }
    return found;
  }

  /** Removes the newest item of `client`. */
  private evict(client: string): Entry<T> {
    const share = this.shares.get(client) as Share<T>;
    const entry = share.entries.pop() as Entry<T>;
    share.bytes -= entry.bytes;
    if (share.entries.length === 0) this.shares.delete(client);
    this.count--;
    this.totalBytes -= entry.bytes;
    return entry;
  }

  /** Puts evicted items back at their clients' ends, newest last; a client they had emptied goes to the back of the turn. */
  private restore(evicted: { client: string; entry: Entry<T> }[]): void {
    for (const { client, entry } of evicted.reverse()) {
      const share = this.shares.get(client) ?? { entries: [], bytes: 0 };
      share.entries.push(entry);
      share.bytes += entry.bytes;
      if (!this.shares.has(client)) this.shares.set(client, share);
      this.count++;
      this.totalBytes += entry.bytes;
    }
  }
}
