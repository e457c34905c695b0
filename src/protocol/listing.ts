// Directory listing formats the server writes: `ls -l` lines (LIST), RFC 3659 facts (MLSD/MLST), names (NLST).

export type EntryType = 'file' | 'dir' | 'link' | 'other';

/** What the server knows about one directory entry; also what the client's list() returns. */
export interface FileInfo {
  name: string;
  type: EntryType;
  size: number;
  /** Modification time; undefined when the listing did not say. */
  modified?: Date;
  /** Unix permission bits (e.g. 0o644), when known. */
  mode?: number;
  /** Target of a symbolic link, when the listing says. */
  target?: string;
  /** Owner and group names as a listing shows them. */
  owner?: string;
  group?: string;
  /** A stable identifier for MLSx `unique` (e.g. device and inode). */
  unique?: string;
  /** Raw line the entry was parsed from (client side). */
  raw?: string;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const SIX_MONTHS_MS = 182 * 24 * 3600 * 1000;

const TYPE_LETTER: Record<EntryType, string> = { dir: 'd', link: 'l', other: 'p', file: '-' };
const RWX = ['---', '--x', '-w-', '-wx', 'r--', 'r-x', 'rw-', 'rwx'];

function modeString(type: EntryType, mode: number | undefined): string {
  const m = mode ?? (type === 'dir' ? 0o755 : 0o644);
  return TYPE_LETTER[type] + RWX[(m >> 6) & 7]! + RWX[(m >> 3) & 7]! + RWX[m & 7]!;
}

function pad2(n: number) { return n < 10 ? '0' + n : String(n); }

/** Owner and group columns: 8 wide, as `ls -l` pads them. */
function column8(name: string | undefined): string {
  return name === undefined ? 'ftp     ' : name.slice(0, 8).padEnd(8, ' ');
}

// Entries of one folder mostly share their minute (or second): the date text of the last entry is
// kept, so a 10,000-entry listing formats a handful of dates instead of 10,000.
let lsDateKey = NaN;
let lsDateText = '';
let timeValKey = NaN;
let timeValText = '';

/** `Mon DD HH:MM` for recent times, `Mon DD  YYYY` for others, in UTC. */
function lsDate(d: Date, now: number): string {
  const t = d.getTime();
  const recent = Math.abs(now - t) < SIX_MONTHS_MS;
  const key = Math.floor(t / 60_000) * 2 + (recent ? 1 : 0);
  if (key !== lsDateKey) {
    lsDateText = `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ` +
      (recent ? `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}` : ` ${d.getUTCFullYear()}`);
    lsDateKey = key;
  }
  return lsDateText;
}

/**
 * One `ls -l` line as /bin/ls prints it in the C locale: recent files show the time, older ones
 * (or future ones) the year. UTC keeps the output independent of the server's time zone.
 */
export function formatListLine(e: FileInfo, now = Date.now()): string {
  const date = lsDate(e.modified ?? new Date(0), now);
  const name = e.type === 'link' && e.target !== undefined ? `${e.name} -> ${e.target}` : e.name;
  return `${modeString(e.type, e.mode)}    1 ${column8(e.owner)} ${column8(e.group)} ${String(e.size).padStart(12, ' ')} ${date} ${name}`;
}

/** YYYYMMDDHHMMSS[.sss] in UTC, the time-val of RFC 3659 section 2.3. */
export function formatTimeVal(d: Date): string {
  const t = d.getTime();
  const second = Math.floor(t / 1000);
  if (second !== timeValKey) {
    timeValText = `${String(d.getUTCFullYear()).padStart(4, '0')}${pad2(d.getUTCMonth() + 1)}${pad2(d.getUTCDate())}` +
      `${pad2(d.getUTCHours())}${pad2(d.getUTCMinutes())}${pad2(d.getUTCSeconds())}`;
    timeValKey = second;
  }
  const ms = t - second * 1000;
  return ms ? `${timeValText}.${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}` : timeValText;
}

/** Parse an RFC 3659 time-val; undefined when malformed or out of range. */
export function parseTimeVal(text: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d{1,3}))?$/.exec(text.trim());
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const ms = m[7] ? Number(m[7].padEnd(3, '0')) : 0;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return undefined;
  const date = new Date(Date.UTC(2000, mo - 1, d, h, mi, s, ms));
  // Date.UTC reads years 0-99 as 1900-1999; set the year itself.
  date.setUTCFullYear(y);
  if (date.getUTCDate() !== d) return undefined; // e.g. Feb 30
  return date;
}

export const MLST_FACTS = ['type', 'size', 'modify', 'perm', 'unique', 'unix.mode'] as const;
export type MlstFact = (typeof MLST_FACTS)[number];

/** The `perm` fact: what this user may do to the entry (RFC 3659 section 7.5.5). */
export interface PermissionView {
  read: boolean;
  write: boolean;
  /** May create, delete, rename inside (for directories) / delete, rename the entry. */
  modify: boolean;
}

function permFact(type: EntryType, p: PermissionView): string {
  let s = '';
  if (type === 'dir') {
    if (p.write) s += 'c';          // create files
    if (p.modify) s += 'dfm';       // delete, rename, mkdir
    s += 'el';                      // enter, list
    if (p.modify) s += 'p';         // purge contents
  } else {
    if (p.write) s += 'a';          // append
    if (p.modify) s += 'df';        // delete, rename
    if (p.read) s += 'r';
    if (p.write) s += 'w';
  }
  return s;
}

/**
 * The facts part of an MLSD/MLST line, for the facts the client selected with OPTS MLST.
 * `typeOverride` gives cdir/pdir for the "." entries of MLST and MLSD.
 */
export function formatFacts(e: FileInfo, selected: ReadonlySet<MlstFact>, perms: PermissionView,
  typeOverride?: 'cdir' | 'pdir'): string {
  return factsFormatter(selected, perms)(e, typeOverride);
}

const TYPE_FACT: Record<EntryType, string> = { dir: 'type=dir;', file: 'type=file;', link: 'type=OS.unix=symlink;', other: 'type=OS.unix=special;' };

/**
 * formatFacts for many entries with the same selected facts and permissions (an MLSD): the
 * choices and the `perm` texts are settled once, not per entry.
 */
export function factsFormatter(selected: ReadonlySet<MlstFact>, perms: PermissionView): (e: FileInfo, typeOverride?: 'cdir' | 'pdir') => string {
  const type = selected.has('type'), size = selected.has('size'), modify = selected.has('modify');
  const unique = selected.has('unique'), unixMode = selected.has('unix.mode');
  const perm: Record<EntryType, string> | undefined = selected.has('perm') ? {
    dir: `perm=${permFact('dir', perms)};`,
    file: `perm=${permFact('file', perms)};`,
    link: `perm=${permFact('link', perms)};`,
    other: `perm=${permFact('other', perms)};`,
  } : undefined;
  return (e, typeOverride) => {
    let out = '';
    if (type) out += typeOverride ? `type=${typeOverride};` : TYPE_FACT[e.type];
    if (size && e.type !== 'dir') out += `size=${e.size};`;
    if (modify && e.modified) out += `modify=${formatTimeVal(e.modified)};`;
    if (perm) out += perm[e.type];
    if (unique && e.unique) out += `unique=${e.unique};`;
    if (unixMode && e.mode !== undefined) out += `unix.mode=0${(e.mode & 0o7777).toString(8)};`;
    return out;
  };
}

/** One MLSD line (also the body of MLST): `facts name`, a single space before the name. */
export function formatMlsxLine(e: FileInfo, selected: ReadonlySet<MlstFact>, perms: PermissionView,
  typeOverride?: 'cdir' | 'pdir', name = e.name): string {
  return `${formatFacts(e, selected, perms, typeOverride)} ${name}`;
}

/** The FEAT line for MLST: every supported fact, the enabled ones marked with '*'. */
export function mlstFeatLine(selected: ReadonlySet<MlstFact>): string {
  return 'MLST ' + MLST_FACTS.map((f) => f + (selected.has(f) ? '*' : '') + ';').join('');
}

/** Apply `OPTS MLST fact;fact;` : unknown facts are ignored, as RFC 3659 7.9 says. */
export function selectFacts(arg: string): Set<MlstFact> {
  const wanted = arg.split(';').map((f) => f.trim().toLowerCase()).filter(Boolean);
  return new Set(MLST_FACTS.filter((f) => wanted.includes(f)));
}
