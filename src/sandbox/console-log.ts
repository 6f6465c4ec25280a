// The console lines of one execution, capped at CONSOLE_LIMIT bytes.

export class ConsoleLog {
  private readonly kept: string[] = [];
  private keptBytes = 0;
  private droppedLines = 0;
  private droppedBytes = 0;

  constructor(private readonly limitBytes: number) {}

  push(line: string): void {
    const size = Buffer.byteLength(line);
    if (this.droppedLines === 0 && this.keptBytes + size <= this.limitBytes) {
      this.kept.push(line);
      this.keptBytes += size;
    } else {
      this.droppedLines++;
      this.droppedBytes += size;
    }
  }

  lines(): string[] {
    if (this.droppedLines === 0) return [...this.kept];
    return [...this.kept, `[javascriptd: ${this.droppedLines} more console lines (${this.droppedBytes} bytes) dropped past CONSOLE_LIMIT]`];
  }
}
