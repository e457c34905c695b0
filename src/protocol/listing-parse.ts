// Parse directory listings into FileInfo: MLSD facts (RFC 3659), Unix `ls -l` and DOS/IIS formats.
import { parseTimeVal, type FileInfo, type EntryType } from './listing.js';

const MONTHS: Record<string, number> = { jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11 };

/** One MLSD/MLST line: `fact=value;fact=value; name`. Undefined for lines that are not facts. */
export function parseMlsxLine(line: string): (FileInfo & { facts: Record<string, string> }) | undefined {
  const text = line.replace(/^ /, '');
  const sp = text.indexOf(' ');
  if (sp <= 0) return undefined;
  const factText = text.slice(0, sp);
  const name = text.slice(sp + 1);
  if (!factText.includes('=') || name === '') return undefined;
  const facts: Record<string, string> = {};
  for (const f of factText.split(';')) {
    if (!f) continue;
    const eq = f.indexOf('=');
    if (eq <= 0) return undefined;
    facts[f.slice(0, eq).toLowerCase()] = f.slice(eq + 1);
  }
  const t = (facts.type ?? '').toLowerCase();
  const type: EntryType = t === 'dir' || t === 'cdir' || t === 'pdir' ? 'dir' : t === 'file' ? 'file'
    : t.includes('symlink') || t.startsWith('os.unix=slink') ? 'link' : t ? 'other' : 'file';
  const info: FileInfo & { facts: Record<string, string> } = { name, type, size: Number(facts.size ?? facts['sizd'] ?? 0) || 0, raw: line, facts };
  const modified = facts.modify ? parseTimeVal(facts.modify) : undefined;
  if (modified) info.modified = modified;
  const mode = facts['unix.mode'];
  if (mode && /^[0-7]{1,5}$/.test(mode)) info.mode = parseInt(mode, 8) & 0o7777;
  if (facts.unique) info.unique = facts.unique;
  // ProFTPD and others: `type=OS.unix=slink:/target`.
  const slink = /^os\.unix=slink:(.+)$/i.exec(facts.type ?? '');
  if (slink) info.target = slink[1];
  if (facts['unix.owner'] ?? facts['unix.ownername']) info.owner = facts['unix.ownername'] ?? facts['unix.owner'];
  if (facts['unix.group'] ?? facts['unix.groupname']) info.group = facts['unix.groupname'] ?? facts['unix.group'];
  return info;
}

function modeFromString(perm: string): number {
  let m = 0;
  const bits = perm.slice(1, 10);
  for (let i = 0; i < 9; i++) {
    const c = bits[i];
    if (c && c !== '-' && c !== 'S' && c !== 'T') m |= 1 << (8 - i);
  }
  // setuid/setgid/sticky shown in the execute positions
  if (/[sS]/.test(bits[2] ?? '')) m |= 0o4000;
  if (/[sS]/.test(bits[5] ?? '')) m |= 0o2000;
  if (/[tT]/.test(bits[8] ?? '')) m |= 0o1000;
  return m;
}

/**
 * `ls -l` dates: `Mon DD HH:MM` (this year, or last year when that would be in the future) or
 * `Mon DD YYYY`. Times are taken as UTC: servers rarely say their zone.
 */
function unixDate(month: string, day: string, yearOrTime: string, now: Date): Date | undefined {
  const mo = MONTHS[month.toLowerCase().slice(0, 3)];
  const d = Number(day);
  if (mo === undefined || !(d >= 1 && d <= 31)) return undefined;
  if (/^\d{4}$/.test(yearOrTime)) return new Date(Date.UTC(Number(yearOrTime), mo, d));
  const m = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(yearOrTime);
  if (!m) return undefined;
  let year = now.getUTCFullYear();
  const guess = Date.UTC(year, mo, d, Number(m[1]), Number(m[2]), Number(m[3] ?? 0));
  if (guess > now.getTime() + 24 * 3600 * 1000) year -= 1;
  return new Date(Date.UTC(year, mo, d, Number(m[1]), Number(m[2]), Number(m[3] ?? 0)));
}

const UNIX_RE = new RegExp(
  '^([bcdlpsw-][rwxsStT-]{9})[+.@]?\\s+' + // type and permissions (ACL markers tolerated)
  '(?:(\\d+)\\s+)?' +                        // link count (missing on some servers)
  '(\\S+)\\s+' +                             // owner
  '(?:(\\S+)\\s+)?' +                        // group (missing with ls -o / some servers)
  '(\\d+|\\d+,\\s*\\d+)\\s+' +               // size, or major, minor for devices
  '(\\w{3})\\s+(\\d{1,2})\\s+(\\d{1,2}:\\d{2}(?::\\d{2})?|\\d{4})\\s' + // date
  '(.*)$');

/**
 * The same with GNU ls's ISO dates (`2026-11-20 09:15`, or with seconds and a zone), which servers
 * that run /bin/ls (netkit ftpd) print under many locales other than C.
 */
const UNIX_ISO_RE = new RegExp(
  '^([bcdlpsw-][rwxsStT-]{9})[+.@]?\\s+(?:(\\d+)\\s+)?(\\S+)\\s+(?:(\\S+)\\s+)?(\\d+|\\d+,\\s*\\d+)\\s+' +
  '(\\d{4})-(\\d{2})-(\\d{2})\\s+(\\d{2}):(\\d{2})(?::(\\d{2})(?:\\.\\d+)?)?(?:\\s+([+-])(\\d{2})(\\d{2}))?\\s' +
  '(.*)$');

export function parseUnixLine(line: string, now = new Date()): FileInfo | undefined {
  const iso = UNIX_RE.test(line) ? undefined : UNIX_ISO_RE.exec(line);
  if (iso) {
    const [, perm, , owner, group, size, y, mo, d, h, mi, sec, sign, zh, zm, rest] = iso as unknown as string[];
    // Without a zone (long-iso) the time is taken as UTC, as the `ls -l` dates are; with one, as said.
    const zone = sign ? (sign === '-' ? -1 : 1) * (Number(zh) * 60 + Number(zm)) * 60_000 : 0;
    const when = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec ?? 0)) - zone);
    return unixEntry(line, perm!, owner!, group, size!, Number.isNaN(when.getTime()) ? undefined : when, rest!);
  }
  const m = UNIX_RE.exec(line);
  if (!m) return undefined;
  const [, perm, , owner, group, size, month, day, yt, rest] = m as unknown as string[];
  return unixEntry(line, perm!, owner!, group, size!, unixDate(month!, day!, yt!, now), rest!);
}

function unixEntry(line: string, perm: string, owner: string, group: string | undefined, size: string, modified: Date | undefined, rest: string): FileInfo | undefined {
  const t = perm[0];
  const type: EntryType = t === 'd' ? 'dir' : t === 'l' ? 'link' : t === '-' ? 'file' : 'other';
  let name = rest;
  let target: string | undefined;
  if (type === 'link') {
    const arrow = name.indexOf(' -> ');
    if (arrow >= 0) { target = name.slice(arrow + 4); name = name.slice(0, arrow); }
  }
  if (name === '' ) return undefined;
  const info: FileInfo = { name, type, size: /,/.test(size) ? 0 : Number(size), mode: modeFromString(perm), owner, raw: line };
  if (group) info.group = group;
  if (modified) info.modified = modified;
  if (target !== undefined) info.target = target;
  return info;
}

/** IIS / Windows: `01-15-24  03:04PM       <DIR>          name` or `... 1234 name`; also 4-digit years and 24h times. */
const DOS_RE = /^(\d{2})-(\d{2})-(\d{2,4})\s+(\d{1,2}):(\d{2})\s*([AaPp][Mm])?\s+(<DIR>|\d+)\s+(.+)$/;
/** IIS with ISO dates (`2021-02-13  15:48`), as some regional settings print them. */
const DOS_ISO_RE = /^(\d{4})-(\d{2})-(\d{2})\s+(\d{1,2}):(\d{2})\s*([AaPp][Mm])?\s+(<DIR>|\d+)\s+(.+)$/;

/** IIS's own layout: `MM-DD-YY  hh:mmAM` (or a 4-digit year), then a field of 22 columns for `<DIR>` or the size. */
const IIS_STAMP = /^\d{2}-\d{2}-\d{2}(?:\d{2})?  \d{2}:\d{2}[AP]M/;

/**
 * IIS puts every name at the same column (39 with 2-digit years), after a space: a name that
 * starts with spaces keeps them there, where the pattern's `\s+` would have taken them.
 */
function iisName(line: string, name: string): string {
  const stamp = IIS_STAMP.exec(line);
  if (!stamp) return name;
  const col = stamp[0].length + 22;
  if (line.length - name.length <= col || line[col - 1] !== ' ') return name;
  if (!/^\s+(<DIR>|\d+)$/.test(line.slice(stamp[0].length, col).trimEnd())) return name;
  return line.slice(col);
}

export function parseDosLine(line: string): FileInfo | undefined {
  let m = DOS_RE.exec(line);
  if (!m) {
    const iso = DOS_ISO_RE.exec(line);
    if (!iso) return undefined;
    m = [iso[0], iso[2]!, iso[3]!, iso[1]!, iso[4]!, iso[5]!, iso[6]!, iso[7]!, iso[8]!] as unknown as RegExpExecArray;
  }
  const [, mo, d, y, h, mi, ampm, sizeOrDir, name] = m as unknown as string[];
  if (!(Number(mo) >= 1 && Number(mo) <= 12 && Number(d) >= 1 && Number(d) <= 31 && Number(mi) < 60 && Number(h) < 24)) return undefined;
  let year = Number(y);
  if (y!.length === 2) year += year < 70 ? 2000 : 1900;
  let hour = Number(h);
  if (ampm) {
    const pm = ampm.toLowerCase() === 'pm';
    if (hour === 12) hour = pm ? 12 : 0; else if (pm) hour += 12;
  }
  const dir = sizeOrDir === '<DIR>';
  return {
    name: iisName(line, name!), type: dir ? 'dir' : 'file', size: dir ? 0 : Number(sizeOrDir),
    modified: new Date(Date.UTC(year, Number(mo) - 1, Number(d), hour, Number(mi))), raw: line,
  };
}

/**
 * Parse a LIST or MLSD body, whatever the server. Lines that are neither entries nor recognised
 * ("total 12", blank lines, banners) are skipped; `.` and `..` are dropped. Never throws.
 */
export function parseListing(text: string, now = new Date()): FileInfo[] {
  const out: FileInfo[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const entry = parseListingLine(raw, now);
    if (entry) out.push(entry);
  }
  return out;
}

/** One line of a listing in any format: its entry, or undefined for totals, `.`/`..` and lines not understood. */
export function parseListingLine(raw: string, now = new Date()): FileInfo | undefined {
  const line = raw.replace(/\r$/, '');
  if (!line.trim() || /^total\s+\d+/i.test(line)) return undefined;
  const entry = parseMlsxLine(line) ?? parseUnixLine(line, now) ?? parseDosLine(line);
  if (!entry) return undefined;
  const facts = (entry as { facts?: Record<string, string> }).facts;
  if (facts && /^(cdir|pdir)$/i.test(facts.type ?? '')) return undefined;
  if (entry.name === '.' || entry.name === '..') return undefined;
  if ('facts' in entry) delete (entry as { facts?: unknown }).facts;
  return entry;
}
