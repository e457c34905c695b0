// Transfer commands: RETR, STOR, APPE, STOU, REST, ABOR, and the parameters TYPE, MODE, STRU, ALLO.
import crypto from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Transform as StreamTransform, type Duplex, type Readable, type Writable, type Transform } from 'node:stream';
import { AsciiOffsetFinder, LfToCrlf, CrlfToLf } from '../../protocol/ascii.js';
import { virtualBasename, virtualParent } from '../../protocol/path.js';
import { FtpReplyError } from '../errors.js';
import type { Session } from '../session.js';
import type { FileReader, FileWriter, WriteOptions } from '../storage/storage.js';
import type { CommandSpec } from './table.js';
import { finish, pumpFile, pumpToFile } from '../../io/file-pump.js';
import { throttle } from '../../io/throttle.js';

/** Largest file read through to find a TYPE A restart offset (as SIZE in TYPE A). */
export const ASCII_SCAN_LIMIT = 16 * 1024 * 1024;

/** Downloads up to this size are read whole and sent with one write. */
const WHOLE_MAX = 64 * 1024;

/**
 * A TYPE A restart offset (octets as transferred, RFC 3659 5) as a place in the file, found by
 * reading the file from its start; 554 when the file is shorter than that as transferred. Only
 * for files up to ASCII_SCAN_LIMIT, as SIZE in TYPE A: the scan runs before the transfer (no ABOR
 * reaches it), and without a bound a read-only user could keep the server reading gigabytes.
 */
async function asciiRestart(s: Session, p: string, offset: number, size: number): Promise<NonNullable<AsciiOffsetFinder['result']>> {
  // Each file byte is at most two octets on the wire.
  if (offset > 2 * size) throw new FtpReplyError(554, 'Restart position beyond end of file.');
  if (size > ASCII_SCAN_LIMIT) throw new FtpReplyError(554, 'Restart in TYPE A only for files up to 16 MiB; use TYPE I.');
  const finder = new AsciiOffsetFinder(offset);
  if (!finder.result) {
    const stream = await s.fs.createReadStream(p);
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        if (s.isClosed) throw new FtpReplyError(421, 'Connection closed.');
        if (finder.push(chunk)) break;
      }
    } finally {
      stream.destroy();
    }
  }
  if (!finder.result) throw new FtpReplyError(554, 'Restart position beyond end of file.');
  return finder.result;
}

/**
 * Pipe through transforms (line ends, a bandwidth limit), counting the bytes that cross the data
 * connection: those read from it (`in`), or those the last transform hands it (`out`).
 */
async function copy(from: Readable, transforms: (Transform | undefined)[], to: Writable, countOn: 'in' | 'out',
  signal: AbortSignal): Promise<number> {
  let n = 0;
  const steps = transforms.filter((t): t is Transform => t !== undefined);
  const counted = countOn === 'in' ? from : (steps.at(-1) ?? from);
  counted.on('data', (c: Buffer) => { n += c.length; });
  await pipeline([from, ...steps, to], { signal });
  return n;
}

/** The bandwidth limit of one direction as a stream step, or nothing when there is none. */
function limit(s: Session, direction: 'download' | 'upload'): Transform | undefined {
  const rate = s.maxRate(direction);
  return rate > 0 ? throttle(rate) : undefined;
}

function modeName(s: Session) { return s.type === 'A' ? 'ASCII' : 'BINARY'; }

async function retr(s: Session, arg: string) {
  const p = s.resolve(arg);
  s.require('download', p);
  s.requireDataSetup();
  const offset = s.restOffset;
  s.restOffset = 0;
  let stream: Readable | undefined;
  let reader: FileReader | undefined;
  try {
    let size: number;
    let run: (data: Duplex, signal: AbortSignal) => Promise<number>;
    let small = false;
    // A limited download goes through the stream path: its pace is set by the throttle, not by reads.
    if (s.type === 'I' && s.fs.openReader && !s.maxRate('download')) {
      // One path resolution and one open give the type, the size and the bytes.
      reader = await s.fs.openReader(p);
      size = reader.size;
      if (offset > size) throw new FtpReplyError(554, 'Restart position beyond end of file.');
      const left = size - offset;
      if (left <= WHOLE_MAX) {
        const buf = Buffer.allocUnsafe(left);
        const n = left ? await reader.read(buf, left, offset) : 0;
        await reader.close();
        const bytes = buf.subarray(0, n);
        small = true;
        run = async (data) => { await finish(data, bytes); return bytes.length; };
      } else {
        const r = reader;
        run = (data, signal) => pumpFile(r, offset, data, signal);
      }
    } else {
      const info = await s.fs.stat(p);
      if (info.type === 'dir') throw new FtpReplyError(550, 'Is a directory.');
      size = info.size;
      const ascii = s.type === 'A';
      // In TYPE A the offset counts octets as sent (CRLF line ends), not the file's bytes.
      const start = ascii && offset ? await asciiRestart(s, p, offset, info.size) : { fileOffset: offset, prevCr: false, split: false };
      if (start.fileOffset > info.size) throw new FtpReplyError(554, 'Restart position beyond end of file.');
      stream = await s.fs.createReadStream(p, { start: start.fileOffset });
      const source = stream;
      const steps = [ascii ? new LfToCrlf(start.prevCr || start.split) : undefined, limit(s, 'download')];
      run = (data, signal) => copy(source, steps, data, 'out', signal);
    }
    const started = Date.now();
    let sent = 0;
    const ok = await s.runTransfer({
      what: `RETR ${p}`,
      // The byte count only in binary: in TYPE A the file's size is not what goes over the wire.
      opening: `Opening ${modeName(s)} mode data connection for ${virtualBasename(p)}${s.type === 'A' ? '' : ` (${size - offset} bytes)`}.`,
      run: async (data, signal) => (sent = await run(data, signal)),
      small,
    });
    if (ok) {
      // What went over the wire (in TYPE A, line ends included).
      s.ctx.emit('download', { session: s.info(), path: p, bytes: sent, durationMs: Date.now() - started });
    }
  } catch (err) {
    s.clearData();
    throw err;
  } finally {
    stream?.destroy();
    await reader?.close();
  }
}

/**
 * Where an upload is written: in place, or (atomic mode, whole-file stores) under a hidden
 * temporary name in the same folder, renamed over the target only once every byte has arrived.
 */
function uploadTarget(s: Session, p: string, options: WriteOptions, mode: string): string {
  if (!s.ctx.options.atomicUploads || mode === 'append' || options.start) return p;
  const dir = virtualParent(p);
  return `${dir === '/' ? '' : dir}/.wharf-upload-${crypto.randomBytes(6).toString('hex')}-${virtualBasename(p)}`;
}

/** `552` for an upload that would make a file larger than the session may (RFC 959's "exceeded storage allocation"). */
function tooLarge(max: number): FtpReplyError {
  return new FtpReplyError(552, `Exceeded storage allocation: files may be at most ${max} bytes here.`);
}

/**
 * An upload's byte counter: once the file, `base` bytes before it (a restart offset, or the file
 * appended to), would pass `max`, it says so and returns the 552 that ends the transfer before
 * those bytes are written. pumpToFile takes it as its onBytes. Undefined without a limit.
 */
function sizeGuard(max: number, base: number, tripped: () => void): ((n: number) => Error | void) | undefined {
  if (!max) return undefined;
  let size = base;
  return (n) => {
    size += n;
    if (size > max) { tripped(); return tooLarge(max); }
  };
}

/**
 * The guard as the last step before the file on the stream path: it counts the bytes as stored
 * (in TYPE A after CRLF became LF, so a file that fits is not refused for its CRs), and a chunk
 * that would pass the limit fails the pipeline instead of reaching the file (an append keeps the
 * file as it was, not grown past the limit).
 */
function guardStep(guard: ((n: number) => Error | void) | undefined): Transform | undefined {
  if (!guard) return undefined;
  return new StreamTransform({
    transform(chunk: Buffer, _encoding, done) {
      const stop = guard(chunk.length);
      if (stop) done(stop); else done(null, chunk);
    },
  });
}

async function receive(s: Session, p: string, options: WriteOptions, mode: 'store' | 'append' | 'unique',
  opening: string, complete?: (n: number) => string, afterCr = false, base = options.start ?? 0) {
  let sink: Writable | undefined;
  let writer: (FileWriter & { start: number }) | undefined;
  const target = uploadTarget(s, p, options, mode);
  const noReplace = mode === 'unique' || !s.allows('overwrite', p);
  const writeOptions = target === p ? options : { exclusive: true };
  const maxSize = s.maxUploadSize();
  if (maxSize && base > maxSize) { s.clearData(); throw tooLarge(maxSize); }
  let tooBig = false;
  const guard = sizeGuard(maxSize, base, () => { tooBig = true; });
  let ok = false;
  try {
    let move: (data: Duplex, signal: AbortSignal) => Promise<number>;
    if (s.type === 'I' && s.fs.openWriter && !s.maxRate('upload')) {
      const w = await s.fs.openWriter(target, writeOptions);
      writer = w;
      move = (data, signal) => pumpToFile(data, w, w.start, signal, guard);
    } else {
      const out = await s.fs.createWriteStream(target, writeOptions);
      sink = out;
      const steps = [limit(s, 'upload'), s.type === 'A' ? new CrlfToLf(afterCr) : undefined, guardStep(guard)];
      move = (data, signal) => copy(data, steps, out, 'in', signal);
    }
    const started = Date.now();
    let received = 0;
    ok = await s.runTransfer({
      what: `${mode.toUpperCase()} ${p}`,
      // Binary into a file: the path that reads into blocks (ASCII goes through a stream).
      inbound: writer !== undefined,
      opening,
      complete,
      run: async (data: Duplex, signal) => {
        received = await move(data, signal);
        // Closed before 226: a client that sees 226 finds every byte in the file.
        await writer?.close();
        // In atomic mode the file takes its name before 226 is sent: a client that sees 226 can use it.
        // Not over a file that appeared meanwhile when the user may not overwrite (or for STOU):
        // the name was free when the upload began, but another upload may have taken it since.
        if (target !== p) await s.fs.rename(target, p, noReplace ? { noReplace: true } : undefined);
        return received;
      },
    });
    if (ok) {
      if (mode !== 'append') s.noteUpload(p);
      s.ctx.emit('upload', { session: s.info(), path: p, bytes: received, durationMs: Date.now() - started, mode });
    }
  } catch (err) {
    s.clearData();
    throw err;
  } finally {
    if (sink && !sink.destroyed && !sink.writableFinished) sink.destroy();
    await writer?.close();
    if (!ok && (sink || writer)) await discardPartial(s, target, p, mode, tooBig);
  }
}

/**
 * After a failed upload: drop the temporary file, or the partial one when so configured or when
 * it grew past the size limit (resuming it could only fail again). An append keeps its file.
 */
async function discardPartial(s: Session, target: string, p: string, mode: string, tooBig: boolean) {
  const remove = target !== p || ((s.ctx.options.partialUploads === 'delete' || tooBig) && mode !== 'append');
  if (!remove) return;
  await s.fs.unlink(target).catch(() => undefined);
}


async function stor(s: Session, arg: string) {
  const p = s.resolve(arg);
  s.require('upload', p);
  s.requireDataSetup();
  const offset = s.restOffset;
  s.restOffset = 0;
  const existing = await s.fs.stat(p).catch(() => undefined);
  if (existing?.type === 'dir') { s.clearData(); throw new FtpReplyError(550, 'Is a directory.'); }
  if (existing && !s.allows('overwrite', p)) { s.clearData(); throw new FtpReplyError(550, 'Permission denied: file exists.'); }
  // In TYPE A, asciiRestart checks the offset (it counts octets as transferred).
  if (s.type !== 'A' && offset > (existing?.size ?? 0)) { s.clearData(); throw new FtpReplyError(554, 'Restart position beyond end of file.'); }
  let start = offset;
  let afterCr = false;
  if (s.type === 'A' && offset) {
    // The client resends from an offset counted as transferred: keep the file up to the matching
    // byte. A CR kept last (an upload cut between CR and LF) is taken back, to be joined with an
    // LF that may come first now.
    try {
      const at = await asciiRestart(s, p, offset, existing?.size ?? 0);
      afterCr = at.prevCr;
      start = at.fileOffset - (afterCr ? 1 : 0);
    } catch (err) { s.clearData(); throw err; }
  }
  // A user who may not overwrite creates the file exclusively: it may have appeared since the check.
  const exclusive = start === 0 && !s.allows('overwrite', p) ? true : undefined;
  await receive(s, p, { start, exclusive }, 'store', `Opening ${modeName(s)} mode data connection for ${virtualBasename(p)}.`, undefined, afterCr);
}

async function appe(s: Session, arg: string) {
  s.requireDataSetup();
  const p = s.resolve(arg);
  s.restOffset = 0;
  const existing = await s.fs.stat(p).catch(() => undefined);
  if (existing?.type === 'dir') { s.clearData(); throw new FtpReplyError(550, 'Is a directory.'); }
  s.require(existing ? 'append' : 'upload', p);
  // Nor may one who may not append add to a file that appeared since the check.
  const exclusive = !existing && !s.allows('append', p) ? true : undefined;
  await receive(s, p, { append: true, exclusive }, 'append', `Opening ${modeName(s)} mode data connection for ${virtualBasename(p)}.`,
    undefined, false, existing?.size ?? 0);
}

async function stou(s: Session, arg: string) {
  const base = arg.trim() ? s.resolve(arg) : `${s.cwd === '/' ? '' : s.cwd}/wharf-${crypto.randomBytes(6).toString('hex')}`;
  s.require('upload', base);
  s.requireDataSetup();
  s.restOffset = 0;
  // Find a free name by trying base, base.1, base.2 ...; creation itself is exclusive, so a race
  // with another session makes the next candidate be tried, never an overwrite.
  for (let i = 0; i < 100; i++) {
    const candidate = i === 0 ? base : `${base}.${i}`;
    const exists = await s.fs.stat(candidate).then(() => true, () => false);
    if (exists) continue;
    const name = virtualBasename(candidate);
    try {
      await receive(s, candidate, { exclusive: true }, 'unique', `FILE: ${name}`,
        () => `Transfer complete (unique file name: ${name}).`);
      return;
    } catch (err) {
      if ((err as { code?: string }).code === 'EEXIST') continue;
      throw err;
    }
  }
  s.clearData();
  throw new FtpReplyError(450, `Could not find a unique name in ${virtualParent(base)}.`);
}

function type(s: Session, arg: string) {
  const parts = arg.trim().toUpperCase().split(/\s+/);
  const [t, p] = parts;
  if (parts.length > 2) throw new FtpReplyError(501, 'Syntax error in TYPE.');
  // RFC 1123 4.1.2.2: a host that makes no distinction between TYPE N and TYPE T SHOULD take T as N.
  if (t === 'A' && (p === undefined || p === 'N' || p === 'T')) { s.type = 'A'; s.reply(200, 'Type set to A.'); return; }
  if (t === 'I' && p === undefined) { s.type = 'I'; s.reply(200, 'Type set to I.'); return; }
  if (t === 'L' && p === '8') { s.type = 'I'; s.reply(200, 'Type set to L 8.'); return; }
  if ((t === 'A' && p === 'C') || t === 'E' || (t === 'L' && p !== undefined && /^\d+$/.test(p))) {
    throw new FtpReplyError(504, 'Type not implemented for that parameter.');
  }
  throw new FtpReplyError(501, 'Unrecognised TYPE.');
}

function oneOf(supported: string, known: string, name: string) {
  return (s: Session, arg: string) => {
    const v = arg.trim().toUpperCase();
    if (v === supported) { s.reply(200, `${name} set to ${v}.`); return; }
    if (v.length === 1 && known.includes(v)) throw new FtpReplyError(504, `${name} ${v} not implemented.`);
    throw new FtpReplyError(501, `Unrecognised ${name}.`);
  };
}

async function abor(s: Session) {
  const t = s.transfer;
  if (t) {
    t.abort();
    await t.done; // the transfer's own 426 goes out first
    s.reply(226, 'ABOR command successful.');
    return;
  }
  // RFC 959 4.1.3: with the service command already completed, close the data connection (if
  // open) and reply 226.
  s.clearData();
  s.reply(226, 'No transfer to abort; ABOR command successful.');
}

export const transferCommands: CommandSpec[] = [
  { verb: 'RETR', needsArg: true, handler: retr, help: 'RETR <sp> pathname' },
  { verb: 'STOR', needsArg: true, handler: stor, help: 'STOR <sp> pathname' },
  { verb: 'APPE', needsArg: true, handler: appe, help: 'APPE <sp> pathname' },
  { verb: 'STOU', handler: stou, help: 'STOU' },
  {
    verb: 'REST', needsArg: true, help: 'REST <sp> offset', feat: () => ['REST STREAM'],
    handler: (s, arg) => {
      const t = arg.trim();
      if (!/^\d{1,15}$/.test(t)) throw new FtpReplyError(501, 'REST needs a non-negative byte offset.');
      s.restOffset = Number(t);
      s.reply(350, `Restarting at ${s.restOffset}. Send STOR or RETR to initiate transfer.`);
    },
  },
  { verb: 'ABOR', handler: abor, help: 'ABOR' },
  { verb: 'TYPE', needsArg: true, handler: type, help: 'TYPE <sp> A | I | L 8' },
  { verb: 'MODE', needsArg: true, handler: oneOf('S', 'SBCZ', 'Mode'), help: 'MODE <sp> S' },
  { verb: 'STRU', needsArg: true, handler: oneOf('F', 'FRP', 'Structure'), help: 'STRU <sp> F' },
  {
    verb: 'ALLO', needsArg: true, help: 'ALLO <sp> bytes [<sp> R <sp> bytes]',
    handler: (s, arg) => {
      // RFC 959: a decimal size, optionally a record size; nothing to reserve here, but the syntax is checked.
      if (!/^\d{1,20}( R \d{1,20})?$/i.test(arg.trim())) throw new FtpReplyError(501, 'Usage: ALLO <bytes> [R <bytes>].');
      s.reply(202, 'ALLO not needed, superfluous at this site.');
    },
  },
];
