// Which client addresses may connect at all: allow and deny lists of addresses and CIDR ranges, IPv4 and IPv6.
import net from 'node:net';

/** Add `entry` (`192.0.2.7`, `10.0.0.0/8`, `2001:db8::/32`) to `list`; a clear error names what is wrong. */
function addRule(list: net.BlockList, entry: string, setting: string): void {
  const text = entry.trim();
  const slash = text.indexOf('/');
  const ip = slash < 0 ? text : text.slice(0, slash);
  const family = net.isIPv4(ip) ? 'ipv4' : net.isIPv6(ip) ? 'ipv6' : undefined;
  if (!family) throw new Error(`${setting}: '${text}' is not an IP address or CIDR range (like 192.0.2.0/24 or 2001:db8::/32)`);
  if (slash < 0) { list.addAddress(ip, family); return; }
  const bits = text.slice(slash + 1);
  const max = family === 'ipv4' ? 32 : 128;
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) throw new Error(`${setting}: '${text}' needs a prefix length from 0 to ${max}`);
  list.addSubnet(ip, Number(bits), family);
}

export class AddressFilter {
  private readonly allow: net.BlockList | undefined;
  private readonly deny: net.BlockList | undefined;

  /** Empty `allowFrom`: every address not denied may connect. */
  constructor(allowFrom: readonly string[] = [], denyFrom: readonly string[] = []) {
    const build = (entries: readonly string[], setting: string) => {
      if (entries.length === 0) return undefined;
      const list = new net.BlockList();
      for (const e of entries) addRule(list, e, setting);
      return list;
    };
    this.allow = build(allowFrom, 'allowFrom');
    this.deny = build(denyFrom, 'denyFrom');
  }

  /** `ip` as normalizeIp gives it: IPv4-mapped IPv6 addresses already read as IPv4. */
  allows(ip: string): boolean {
    if (!this.allow && !this.deny) return true;
    // No address (a socket already gone): nothing to match, so no list can vouch for it.
    const family = net.isIPv4(ip) ? 'ipv4' : net.isIPv6(ip) ? 'ipv6' : undefined;
    if (!family) return false;
    if (this.deny?.check(ip, family)) return false;
    return !this.allow || this.allow.check(ip, family);
  }
}
