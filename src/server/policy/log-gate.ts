// Warnings about floods, said at most once an interval, with how many occurrences each line stands for.

/** A flood (refused connections, a full port range) costs one log line per interval, not one per event. */
export class LogGate {
  private last = 0;
  private count = 0;

  constructor(private readonly intervalMs = 10_000) {}

  /** Count an occurrence; returns how many there were since the last line when one may be said now, else 0. */
  pass(): number {
    this.count++;
    const now = Date.now();
    if (now - this.last < this.intervalMs) return 0;
    this.last = now;
    const n = this.count;
    this.count = 0;
    return n;
  }
}
