// Data-connection addresses: PORT/PASV (RFC 959) and EPRT/EPSV (RFC 2428), encode and decode.
import net from 'node:net';

export interface HostPort {
  host: string;
  port: number;
}

/** One spelling per address: IPv6 in its canonical form, IPv4-mapped IPv6 (dual-stack peers) as IPv4. */
export function normalizeIp(ip: string): string {
  let text = ip;
  // One spelling per IPv6 address (RFC 5952), so that 0:0:0:0:0:0:0:1 in an EPRT is ::1.
  const zone = text.indexOf('%');
  const bare = zone < 0 ? text : text.slice(0, zone);
  if (net.isIPv6(bare)) {
    try {
      text = new net.SocketAddress({ address: bare, family: 'ipv6' }).address + (zone < 0 ? '' : text.slice(zone));
    } catch { /* kept as given */ }
  }
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(text);
  return m ? m[1]! : text;
}

function validPort(p: number): boolean {
  return Number.isInteger(p) && p >= 1 && p <= 65535;
}

/** `h1,h2,h3,h4,p1,p2` as used by PORT and the 227 reply. */
export function encodeHostPort({ host, port }: HostPort): string {
  const ip = normalizeIp(host);
  if (!net.isIPv4(ip)) throw new Error('PORT/PASV addresses must be IPv4');
  return `${ip.split('.').join(',')},${port >> 8},${port & 255}`;
}

/** Decode `h1,h2,h3,h4,p1,p2`; undefined when malformed (wrong count, out of range, port 0). */
export function decodeHostPort(text: string): HostPort | undefined {
  const parts = text.trim().split(',');
  if (parts.length !== 6) return undefined;
  const nums: number[] = [];
  for (const p of parts) {
    const t = p.trim();
    if (!/^\d{1,3}$/.test(t)) return undefined;
    const n = Number(t);
    if (n > 255) return undefined;
    nums.push(n);
  }
  const port = nums[4]! * 256 + nums[5]!;
  if (!validPort(port)) return undefined;
  return { host: nums.slice(0, 4).join('.'), port };
}

export function formatPasvReply(hp: HostPort): string {
  return `Entering Passive Mode (${encodeHostPort(hp)}).`;
}

/** Find the six numbers anywhere in a 227 reply text, as RFC 1123 4.1.2.6 tells clients to. */
export function parsePasvReply(text: string): HostPort | undefined {
  const m = /(\d{1,3}\s*,\s*\d{1,3}\s*,\s*\d{1,3}\s*,\s*\d{1,3}\s*,\s*\d{1,3}\s*,\s*\d{1,3})/.exec(text);
  return m ? decodeHostPort(m[1]!.replace(/\s+/g, '')) : undefined;
}

/** `|1|132.235.1.2|6275|` or `|2|1080::8:800:200C:417A|5282|`. */
export function encodeEprt({ host, port }: HostPort): string {
  const ip = normalizeIp(host);
  const fam = net.isIPv4(ip) ? 1 : net.isIPv6(ip) ? 2 : 0;
  if (!fam) throw new Error(`not an IP address: ${host}`);
  return `|${fam}|${ip}|${port}|`;
}

export type EprtResult = HostPort | { error: 'syntax' } | { error: 'family' };

/** Decode an EPRT argument. The delimiter is the first character (RFC 2428 section 2). */
export function decodeEprt(text: string): EprtResult {
  const t = text.trim();
  if (t.length < 7) return { error: 'syntax' };
  const d = t[0]!;
  if (d.charCodeAt(0) < 33 || d.charCodeAt(0) > 126 || /[0-9a-fA-F.:]/.test(d)) return { error: 'syntax' };
  const parts = t.split(d);
  if (parts.length !== 5 || parts[0] !== '' || parts[4] !== '') return { error: 'syntax' };
  const [, fam, addr, portText] = parts as [string, string, string, string];
  if (!/^\d{1,5}$/.test(portText)) return { error: 'syntax' };
  const port = Number(portText);
  if (!validPort(port)) return { error: 'syntax' };
  if (fam === '1') {
    if (!net.isIPv4(addr)) return { error: 'syntax' };
  } else if (fam === '2') {
    if (!net.isIPv6(addr)) return { error: 'syntax' };
  } else {
    return { error: 'family' };
  }
  return { host: addr, port };
}

export function formatEpsvReply(port: number): string {
  return `Entering Extended Passive Mode (|||${port}|)`;
}

/** Port from a 229 reply: `(<d><d><d>port<d>)` with any printable delimiter. */
export function parseEpsvReply(text: string): number | undefined {
  const m = /\(([!-~])\1\1(\d{1,5})\1\)/.exec(text);
  if (!m) return undefined;
  const port = Number(m[2]);
  return validPort(port) ? port : undefined;
}

/**
 * Addresses a client can't reach when a server behind NAT advertises them in a 227 reply:
 * private, loopback, link-local, CGNAT, unspecified. Used by the client to fall back to the
 * control connection's peer.
 */
export function isPrivateOrUnroutable(ip: string): boolean {
  const v4 = normalizeIp(ip);
  if (net.isIPv4(v4)) {
    const [a, b] = v4.split('.').map(Number) as [number, number];
    return a === 0 || a === 10 || a === 127 || (a === 100 && b >= 64 && b <= 127) ||
      (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || a >= 224;
  }
  const l = ip.toLowerCase();
  return l === '::' || l === '::1' || l.startsWith('fe80:') || l.startsWith('fc') || l.startsWith('fd');
}
