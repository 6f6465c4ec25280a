// A map bounded by entry count and by the bytes each entry is said to hold;
// the least recently used entries go first. Used for compiled scripts in a
// sandbox (executor/script-cache.ts) and transformed sources in the daemon
// (runtime/source-transform.ts).

export class Lru<V> {
  private readonly entries = new Map<string, { value: V; bytes: number }>();
  private bytes = 0;

  /** `onEvict` is told of each value pushed out (to release what it holds). */
  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number,
    private readonly onEvict: (value: V) => void = () => {},
  ) {}

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    // Re-inserting keeps the Map in least-recently-used order.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  /** Keeps `value`, evicting the least recently used others until the bounds hold (the newest always stays). */
  set(key: string, value: V, bytes: number): V {
    const replaced = this.entries.get(key);
    if (replaced !== undefined) {
      this.entries.delete(key);
      this.bytes -= replaced.bytes;
    }
    this.entries.set(key, { value, bytes });
    this.bytes += bytes;
    for (const [oldest, entry] of this.entries) {
      if (oldest === key || (this.entries.size <= this.maxEntries && this.bytes <= this.maxBytes)) break;
      this.entries.delete(oldest);
      this.bytes -= entry.bytes;
      this.onEvict(entry.value);
    }
    return value;
  }
}
