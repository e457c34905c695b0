// Bans a remote address after repeated failed logins within a window; bounded in memory.

export interface LoginBanOptions {
  /** Failed logins from one address, within `windowMs`, that trigger a ban; 0 disables bans. */
  maxFailures: number;
  windowMs: number;
  banMs: number;
  /** Addresses tracked at once; the oldest are forgotten first, so a spray of addresses cannot grow memory. */
  maxTracked?: number;
}

export class LoginBan {
  private readonly failures = new Map<string, number[]>();
  private readonly bannedUntil = new Map<string, number>();
  private readonly maxTracked: number;

  constructor(private readonly options: LoginBanOptions) {
    this.maxTracked = options.maxTracked ?? 10_000;
  }

  isBanned(ip: string, now = Date.now()): boolean {
    const until = this.bannedUntil.get(ip);
    if (until === undefined) return false;
    if (until > now) return true;
    this.bannedUntil.delete(ip);
    return false;
  }

  /** Record a failure; true when this failure started a ban. */
  recordFailure(ip: string, now = Date.now()): boolean {
    if (this.options.maxFailures <= 0) return false;
    const recent = (this.failures.get(ip) ?? []).filter((t) => now - t < this.options.windowMs);
    recent.push(now);
    this.failures.delete(ip); // re-insert: Map order is then least-recently-failed first
    this.failures.set(ip, recent);
    this.evict(this.failures);
    if (recent.length < this.options.maxFailures) return false;
    this.failures.delete(ip);
    this.bannedUntil.set(ip, now + this.options.banMs);
    this.evict(this.bannedUntil);
    return true;
  }

  private evict(map: Map<string, unknown>) {
    while (map.size > this.maxTracked) map.delete(map.keys().next().value as string);
  }
}
