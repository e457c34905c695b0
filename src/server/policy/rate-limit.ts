// Rate limits that slow a session flooding commands or errors, without refusing legitimate bursts.

/**
 * A token bucket kept as one number per session (GCRA): the time its `burst` tokens are all back.
 * Rate and burst are the server's, shared; an object per bucket per session cost idle memory.
 * A rate of 0 or less means no limit.
 */
export class RateLimit {
  private readonly intervalMs: number;
  private readonly burstMs: number;

  constructor(ratePerSecond: number, burst = ratePerSecond) {
    this.intervalMs = ratePerSecond > 0 ? 1000 / ratePerSecond : 0;
    this.burstMs = burst * this.intervalMs;
  }

  /** The state after taking one token at `now` (start from 0). */
  take(fullAt: number, now: number): number {
    return this.intervalMs === 0 ? 0 : Math.max(fullAt, now) + this.intervalMs;
  }

  /** How long to wait, in the state `take` returned, before acting on the token. */
  wait(fullAt: number, now: number): number {
    return Math.max(0, Math.ceil(fullAt - now - this.burstMs));
  }
}
