// The console lines of one execution, capped at CONSOLE_LIMIT bytes (each line
// counting one more, for its newline). The isolate applies the same cap before
// a line leaves it and reports what it dropped; the cap here is the second line
// of defence.

export class ConsoleLog {
  private readonly kept: string[] = [];
  private keptBytes = 0;
  private droppedLines = 0;
  private droppedBytes = 0;
  private isolateDropped = { lines: 0, bytes: 0 };

  constructor(private readonly limitBytes: number) {}

  /** Keeps a line if it fits; false if it was dropped. */
  push(line: string): boolean {
    const size = Buffer.byteLength(line) + 1;
    if (this.droppedLines === 0 && this.keptBytes + size <= this.limitBytes) {
      this.kept.push(line);
      this.keptBytes += size;
      return true;
    }
    this.droppedLines++;
    this.droppedBytes += size - 1;
    return false;
  }

  /** Bytes printed, kept or dropped, each line counting one more. */
  printedBytes(): number {
    const dropped = this.droppedLines + this.isolateDropped.lines + this.droppedBytes + this.isolateDropped.bytes;
    return this.keptBytes + dropped;
  }

  /** The isolate's running count of the lines it dropped. */
  droppedInIsolate(lines: number, bytes: number): void {
    if (lines > this.isolateDropped.lines) this.isolateDropped = { lines, bytes };
  }

  lines(): string[] {
    const lines = this.droppedLines + this.isolateDropped.lines;
    if (lines === 0) return [...this.kept];
    const bytes = this.droppedBytes + this.isolateDropped.bytes;
    return [...this.kept, `[javascriptd: ${lines} more console lines (${bytes} bytes) dropped past CONSOLE_LIMIT]`];
  }
}
