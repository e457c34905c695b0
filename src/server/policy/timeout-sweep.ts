// One timer that checks every session's login and idle deadlines, in place of a timer per socket.

/**
 * The clock every deadline and rate limit is kept on, and the sweep compares against: monotonic,
 * so a wall clock stepped forward cannot time every session out at once, nor one stepped back
 * stall them.
 */
export const monotonicNow = (): number => performance.now();

export interface Sweepable {
  checkTimeouts(now: number): void;
}

/**
 * Deadlines are checked every tick, so a timeout fires up to one tick late: a tenth of the
 * shortest timeout, between 10 ms and one second. A timer per socket cost each idle session
 * several hundred bytes (the timer, its bound callback, a once-wrapper) and a refresh per read.
 */
export function sweepTick(timeoutsMs: number[]): number {
  const positive = timeoutsMs.filter((t) => t > 0);
  if (positive.length === 0) return 1000;
  return Math.min(1000, Math.max(10, Math.floor(Math.min(...positive) / 10)));
}

export class TimeoutSweep {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly items: Iterable<Sweepable>, private readonly tickMs: number) {}

  start() {
    if (this.timer) return;
    this.timer = setInterval(() => this.sweep(monotonicNow()), this.tickMs);
    this.timer.unref();
  }

  stop() {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  sweep(now: number) {
    for (const item of this.items) item.checkTimeouts(now);
  }
}
