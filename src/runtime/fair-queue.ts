// Round-robin across clients: each client has its own FIFO and clients take
// turns, so one client's flood waits behind itself, not in front of others.

export class FairQueue<T> {
  // Map order is the rotation: a client that still has items goes to the back.
  private readonly queues = new Map<string, T[]>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  push(client: string, item: T): void {
    const queue = this.queues.get(client);
    if (queue === undefined) this.queues.set(client, [item]);
    else queue.push(item);
    this.count++;
  }

  shift(): T | undefined {
    for (const [client, queue] of this.queues) {
      const item = queue.shift() as T;
      this.queues.delete(client);
      if (queue.length > 0) this.queues.set(client, queue);
      this.count--;
      return item;
    }
    return undefined;
  }

  /** Takes out everything a client still has queued. */
  remove(client: string): T[] {
    const queue = this.queues.get(client) ?? [];
    this.queues.delete(client);
    this.count -= queue.length;
    return queue;
  }

  clear(): T[] {
    const all = [...this.queues.values()].flat();
    this.queues.clear();
    this.count = 0;
    return all;
  }
}
