// Listing commands: LIST, NLST, MLSD, MLST (RFC 3659) and STAT, streamed line by line.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { factsFormatter, formatListLine, formatMlsxLine, mlstFeatLine, type FileInfo, type PermissionView } from '../../protocol/listing.js';
import { globMatch, hasWildcards, MAX_GLOB } from '../../protocol/glob.js';
import { virtualBasename, virtualParent } from '../../protocol/path.js';
import { FtpReplyError } from '../errors.js';
import type { Session } from '../session.js';
import type { CommandSpec } from './table.js';

const CHUNK_CHARS = 64 * 1024;

/**
 * `LIST -la dir` → `dir`: clients pass ls flags, which this server accepts and ignores. Spaces
 * before the path go; spaces after it are part of the name, as for every other command.
 */
function stripListFlags(arg: string): string {
  let rest = arg.replace(/^\s+/, '');
  while (/^-[A-Za-z1]+(\s|$)/.test(rest)) rest = rest.replace(/^-[A-Za-z1]+\s*/, '');
  return rest;
}

/** A path argument, or the working folder when there is none (nothing but spaces counts as none). */
function pathArg(arg: string): string {
  return arg.trim() === '' ? '.' : arg;
}

/**
 * Names with CR or LF (or a link target, owner or group from a custom storage) are left out of
 * every listing: a listing is lines, so such a name would end its line early and what follows would read as another entry, or over the control
 * connection (STAT) as another reply. No FTP command can name such a file anyway.
 */
const LINE_BREAK = /[\r\n]/;
const listable = (e: FileInfo) => !LINE_BREAK.test(e.name) &&
  !(e.target && LINE_BREAK.test(e.target)) && !(e.owner && LINE_BREAK.test(e.owner)) && !(e.group && LINE_BREAK.test(e.group));

interface Target {
  /** Entries to show, in batches. */
  entries: AsyncIterable<FileInfo[]>;
  /** Prefix for NLST names when the client named a directory. */
  prefix: string;
  /** The client named a folder (STAT answers 212 for it, 213 for files). */
  dir?: boolean;
}

/** What a LIST/NLST/STAT argument names: a directory's entries, one file, or a glob in a folder. */
async function resolveTarget(s: Session, rawArg: string): Promise<Target> {
  const arg = stripListFlags(rawArg);
  const p = s.resolve(pathArg(arg));
  const base = virtualBasename(p);
  let globbing = hasWildcards(base);
  if (globbing && base.length > MAX_GLOB) {
    // Too long to expand: a name with `*` or `?` in it, taken literally when it exists.
    s.require('list', virtualParent(p));
    if (!(await s.fs.stat(p).then(() => true, () => false))) throw new FtpReplyError(501, 'Wildcard pattern too long.');
    globbing = false;
  }
  s.require('list', globbing ? virtualParent(p) : p);
  if (globbing) {
    const dir = virtualParent(p);
    const info = await s.fs.stat(dir);
    if (info.type !== 'dir') throw new FtpReplyError(550, 'No such file or directory.');
    const all = batches(s, dir);
    return { entries: (async function* () { for await (const b of all) yield b.filter((e) => globMatch(base, e.name)); })(), prefix: folderPart(arg) };
  }
  const info = await s.fs.stat(p);
  if (info.type === 'dir') return { entries: batches(s, p), prefix: arg ? arg.replace(/\/+$/, '') + '/' : '', dir: true };
  return { entries: (async function* () { yield [info].filter(listable); })(), prefix: folderPart(arg) };
}

/** A folder's entries in batches, from backends that batch or (one by one) from those that don't. */
function batches(s: Session, dir: string): AsyncIterable<FileInfo[]> {
  if (s.fs.listBatches) {
    const all = s.fs.listBatches(dir);
    return (async function* () { for await (const b of all) yield b.filter(listable); })();
  }
  const all = s.fs.list(dir);
  return (async function* () {
    let batch: FileInfo[] = [];
    for await (const e of all) {
      if (listable(e)) batch.push(e);
      if (batch.length >= 256) { yield batch; batch = []; }
    }
    if (batch.length) yield batch;
  })();
}

/** `a/b/c.txt` → `a/b/`: NLST names keep the folder the client asked about, as other servers do. */
function folderPart(arg: string): string {
  return arg.slice(0, arg.lastIndexOf('/') + 1);
}

/** Join formatted lines into large chunks so a big listing is a few writes, not one per entry. */
async function* chunked(entries: AsyncIterable<FileInfo[]>, format: (e: FileInfo) => string): AsyncGenerator<string> {
  let buf = '';
  for await (const batch of entries) {
    for (const e of batch) {
      buf += format(e) + '\r\n';
      if (buf.length >= CHUNK_CHARS) { yield buf; buf = ''; }
    }
  }
  if (buf) yield buf;
}

/** The MLSx `perm` fact for entries of folder `dir`, from what this user may do there. */
export function permissionView(s: Session, dir: string): PermissionView {
  return { read: s.allows('download', dir), write: s.allows('upload', dir), modify: s.allows('delete', dir) || s.allows('rename', dir) };
}

async function sendListing(s: Session, target: Target, format: (e: FileInfo) => string, what: string) {
  await s.runTransfer({
    what,
    opening: 'Here comes the directory listing.',
    complete: () => 'Directory send OK.',
    run: async (data, signal) => {
      let n = 0;
      const source = Readable.from(chunked(target.entries, format), { objectMode: false, highWaterMark: 4 });
      source.on('data', (c: Buffer) => { n += c.length; });
      await pipeline(source, data, { signal });
      return n;
    },
  });
}

/** Resolve first (so a missing path is a 550 with no data connection opened), then stream. */
async function list(s: Session, arg: string, verb: string) {
  s.requireDataSetup();
  let target: Target;
  try {
    target = await resolveTarget(s, arg);
  } catch (err) {
    s.clearData();
    throw err;
  }
  const now = Date.now();
  const format = verb === 'NLST' ? (e: FileInfo) => target.prefix + e.name : (e: FileInfo) => formatListLine(e, now);
  await sendListing(s, target, format, verb);
}

async function mlsd(s: Session, arg: string) {
  s.requireDataSetup();
  let p: string;
  try {
    p = s.resolve(pathArg(arg));
    s.require('list', p);
    const info = await s.fs.stat(p);
    if (info.type !== 'dir') throw new FtpReplyError(501, 'Not a directory: use MLST for a file.');
  } catch (err) {
    s.clearData();
    throw err;
  }
  const facts = factsFormatter(s.mlstFacts, permissionView(s, p));
  await sendListing(s, { entries: batches(s, p), prefix: '' }, (e) => `${facts(e)} ${e.name}`, 'MLSD');
}

async function mlst(s: Session, arg: string) {
  const p = s.resolve(pathArg(arg));
  s.require('list', virtualParent(p));
  const info = await s.fs.stat(p);
  // RFC 3659 7.5.1: the working directory itself is "cdir".
  const line = formatMlsxLine(info, s.mlstFacts, permissionView(s, p), p === s.cwd ? 'cdir' : undefined, p);
  s.reply(250, [`Listing ${p}`, ' ' + line, 'End.']);
}

async function stat(s: Session, arg: string) {
  if (!arg.trim()) {
    const t = s.transfer;
    const lines = [
      'wharf FTP server status:',
      ` Connected to ${s.remoteAddress}`,
      s.account ? ` Logged in as ${s.account.username}` : ' Not logged in',
      ` TYPE: ${s.type === 'A' ? 'ASCII' : 'BINARY'}; STRUcture: File; MODE: Stream`,
      ` Control connection: ${s.secure ? 'TLS' : 'plain'}; data protection: ${s.protection === 'P' ? 'private' : 'clear'}`,
      t ? ` Transfer in progress: ${t.what}, ${t.bytes()} bytes so far` : ' No data connection',
      'End of status',
    ];
    s.reply(211, lines);
    return;
  }
  if (!s.account) throw new FtpReplyError(530, 'Please login with USER and PASS.');
  if (s.transfer) throw new FtpReplyError(450, 'Transfer in progress; try again later.');
  const target = await resolveTarget(s, arg);
  // Streamed onto the control connection, with backpressure, so a huge folder costs no memory.
  // A client that closes while the listing waits for room ends it (and with it the open folder):
  // waiting for a 'drain' that never comes kept the folder open and the session's loop for ever.
  const sock = s.socket;
  const write = (text: string) => new Promise<void>((resolve, reject) => {
    if (sock.destroyed || !sock.writable) { reject(new FtpReplyError(421, 'Connection closed.')); return; }
    if (sock.write(text)) { resolve(); return; }
    const settle = () => {
      sock.off('drain', settle);
      sock.off('close', settle);
      if (sock.destroyed) reject(new FtpReplyError(421, 'Connection closed.')); else resolve();
    };
    sock.on('drain', settle);
    sock.on('close', settle);
  });
  // RFC 959: 212 is a folder's status, 213 a file's.
  const code = target.dir ? 212 : 213;
  await write(`${code}-Status of ${stripListFlags(arg)}:\r\n`);
  const now = Date.now();
  for await (const chunk of chunked(target.entries, (e) => ' ' + formatListLine(e, now))) await write(chunk);
  s.reply(code, 'End of status.');
}

export const listingCommands: CommandSpec[] = [
  { verb: 'LIST', handler: list, help: 'LIST [<sp> pathname]' },
  { verb: 'NLST', handler: list, help: 'NLST [<sp> pathname]' },
  { verb: 'MLSD', handler: mlsd, help: 'MLSD [<sp> pathname]' },
  { verb: 'MLST', handler: mlst, help: 'MLST [<sp> pathname]', feat: (_ctx, s) => [mlstFeatLine(s.mlstFacts)] },
  { verb: 'STAT', handler: stat, needsLogin: false, help: 'STAT [<sp> pathname]' },
];
