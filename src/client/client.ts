// FtpClient: connect, log in, learn the server's features, and the high-level file operations.
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import tls from 'node:tls';
import { pipeline } from 'node:stream/promises';
import { Readable, Transform, Writable, type Duplex } from 'node:stream';
import { unquotePath } from '../protocol/path.js';
import { parseTimeVal, type FileInfo } from '../protocol/listing.js';
import { parseListing, parseMlsxLine } from '../protocol/listing-parse.js';
import { LfToCrlf, CrlfToLf } from '../protocol/ascii.js';
import { VERSION } from '../version.js';
import { fdWriter } from '../io/fd-writer.js';
import { pumpFile, pumpToFile } from '../io/file-pump.js';
import type { FileReader } from '../server/storage/storage.js';
import { ControlConnection, type ReplyText } from './control.js';
import { prepareData, type DataState, type PendingData } from './data-connection.js';
import { FtpError, FtpTimeoutError } from './errors.js';
import { parseFtpUrl, type Security } from './url.js';

export interface FtpClientOptions {
  host: string;
  port?: number;
  user?: string;
  password?: string;
  /** 'explicit' = AUTH TLS on the control port (ftpes://), 'implicit' = TLS from the first byte (ftps://). */
  security?: Security;
  /** Extra TLS options; certificates are verified unless `rejectUnauthorized: false` is given here. */
  tls?: tls.ConnectionOptions;
  /** Passive mode (default) or active mode (the server connects back). */
  passive?: boolean;
  /**
   * Use the address in a PASV (227) reply even when it differs from the server's. Off by default:
   * the client connects to the address it reached the server on, which also fixes NAT-broken servers.
   */
  trustPasvAddress?: boolean;
  timeouts?: { connect?: number; reply?: number; dataIdle?: number };
  /** Receives each command and reply line (passwords redacted), for debugging. */
  log?: (line: string) => void;
}

export interface Progress {
  path: string;
  direction: 'download' | 'upload';
  bytes: number;
  /** Total size when known. */
  total?: number;
  /** Bytes per second since the transfer started. */
  rate: number;
}

export interface TransferOptions {
  /** Resume: start reading the remote file (download) or writing it (upload) at this offset. */
  offset?: number;
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
  /** TYPE A: line ends converted; default binary. */
  ascii?: boolean;
  /** Download only this many bytes from `offset`, then abort the rest of the transfer (segments). */
  length?: number;
  /** The file's size when already known (from a listing): reported in progress, saves a SIZE. */
  total?: number;
}

export class AbortError extends Error {
  constructor() { super('transfer aborted'); this.name = 'AbortError'; }
}

/** Counts one transfer's bytes and reports progress, throttled. */
interface ProgressCounter {
  add(n: number): void;
  done(): void;
  readonly bytes: number;
}

/** A typed FTP/FTPS client; every method is safe to call while another is running (they queue). */
export class FtpClient extends EventEmitter {
  readonly features = new Map<string, string>();
  private readonly state: DataState = { epsv: undefined };
  private type: 'A' | 'I' | undefined;
  private protectedData = false;

  private constructor(private readonly ctl: ControlConnection, readonly options: FtpClientOptions) {
    super();
  }

  /** Connect and log in, from a URL (`ftp://user:pass@host/`) or options. */
  static async connect(target: string | FtpClientOptions, extra: Partial<FtpClientOptions> = {}): Promise<FtpClient> {
    const options: FtpClientOptions = typeof target === 'string' ? { ...urlOptions(target), ...extra } : { ...target, ...extra };
    const security = options.security ?? 'none';
    const timeouts = { connect: 15_000, reply: 30_000, ...options.timeouts };
    const tlsOptions: tls.ConnectionOptions = { minVersion: 'TLSv1.2', ...options.tls };
    const ctl = await ControlConnection.open({
      host: options.host,
      port: options.port ?? (security === 'implicit' ? 990 : 21),
      implicitTls: security === 'implicit',
      tls: tlsOptions,
      connectTimeoutMs: timeouts.connect,
      replyTimeoutMs: timeouts.reply,
      log: options.log,
    });
    const client = new FtpClient(ctl, { ...options, security });
    try {
      if (security === 'explicit') await ctl.upgrade(tlsOptions);
      await client.login(options.user ?? 'anonymous', options.password ?? (options.user ? '' : 'anonymous@'));
      await client.readFeatures();
      if (security !== 'none') {
        await ctl.expect('PBSZ 0', 200);
        await ctl.expect('PROT P', 200);
        client.protectedData = true;
      }
      if (client.features.has('UTF8')) await ctl.raw('OPTS UTF8 ON');
    } catch (err) {
      await ctl.close();
      throw err;
    }
    return client;
  }

  private async login(user: string, password: string) {
    const u = await this.ctl.raw(`USER ${user}`);
    if (u.code === 230) return;
    if (u.code !== 331) throw new FtpError(u.code, u.text, `USER ${user}`);
    const p = await this.ctl.raw(`PASS ${password}`);
    if (p.code === 230 || p.code === 202) return;
    throw new FtpError(p.code, p.text, 'PASS');
  }

  private async readFeatures() {
    const r = await this.ctl.raw('FEAT');
    if (r.code !== 211) return;
    for (const line of r.lines.slice(1, -1)) {
      const t = line.trim();
      if (!t) continue;
      const sp = t.indexOf(' ');
      this.features.set((sp < 0 ? t : t.slice(0, sp)).toUpperCase(), sp < 0 ? '' : t.slice(sp + 1));
    }
    const clnt = this.features.has('CLNT');
    if (clnt) await this.ctl.raw(`CLNT wharf ${VERSION}`);
  }

  get secure(): boolean { return this.ctl.secure; }

  // ---- simple commands ----

  /** Send any command and get its reply; negative replies are returned, not thrown. */
  send(command: string): Promise<ReplyText> {
    return this.ctl.exclusive(() => this.ctl.raw(command));
  }

  private run(command: string, ...codes: number[]): Promise<ReplyText> {
    return this.ctl.exclusive(() => this.ctl.expect(command, ...codes));
  }

  async pwd(): Promise<string> {
    const r = await this.run('PWD', 257);
    const p = unquotePath(r.text);
    if (p === undefined) throw new FtpError(r.code, r.text, 'PWD');
    return p;
  }

  async cd(dir: string): Promise<void> { await this.run(`CWD ${dir}`); }

  async mkdir(dir: string): Promise<void> { await this.run(`MKD ${dir}`, 257); }

  async rename(from: string, to: string): Promise<void> {
    await this.ctl.exclusive(async () => {
      await this.ctl.expect(`RNFR ${from}`, 350);
      await this.ctl.expect(`RNTO ${to}`);
    });
  }

  async remove(file: string): Promise<void> { await this.run(`DELE ${file}`); }

  async chmod(file: string, mode: number): Promise<void> { await this.run(`SITE CHMOD ${mode.toString(8)} ${file}`); }

  async size(file: string): Promise<number> {
    const r = await this.ctl.exclusive(async () => { await this.setType('I'); return this.ctl.expect(`SIZE ${file}`, 213); });
    const n = Number(r.text.trim());
    if (!Number.isSafeInteger(n)) throw new FtpError(r.code, r.text, 'SIZE');
    return n;
  }

  async lastModified(file: string): Promise<Date> {
    const r = await this.run(`MDTM ${file}`, 213);
    const d = parseTimeVal(r.text.trim().split(/\s+/).pop() ?? '');
    if (!d) throw new FtpError(r.code, r.text, 'MDTM');
    return d;
  }

  /** Set a file's modification time (MFMT), where the server supports it. */
  async setLastModified(file: string, date: Date): Promise<void> {
    const { formatTimeVal } = await import('../protocol/listing.js');
    await this.run(`MFMT ${formatTimeVal(date).replace(/\.\d+$/, '')} ${file}`, 213);
  }

  /** mkdir -p: create every missing folder on the way; existing ones are fine. */
  async ensureDir(dir: string): Promise<void> {
    const absolute = dir.startsWith('/');
    const parts = dir.split('/').filter(Boolean);
    let current = absolute ? '' : '.';
    for (const part of parts) {
      current = absolute || current !== '.' ? `${current}/${part}` : part;
      const r = await this.send(`MKD ${current}`);
      if (r.code === 257) continue;
      // Exists already? Then CWD into it works; otherwise the MKD error stands.
      const probe = await this.send(`MLST ${current}`);
      const isDir = probe.code === 250 ? /type=(dir|cdir|pdir)/i.test(probe.text) : await this.isDirByCwd(current);
      if (!isDir) throw new FtpError(r.code, r.text, `MKD ${current}`);
    }
  }

  private async isDirByCwd(dir: string): Promise<boolean> {
    return this.ctl.exclusive(async () => {
      const here = await this.ctl.raw('PWD');
      const r = await this.ctl.raw(`CWD ${dir}`);
      if (r.code !== 250) return false;
      const back = unquotePath(here.text);
      if (back) await this.ctl.raw(`CWD ${back}`);
      return true;
    });
  }

  /** Remove a folder; with `recursive`, everything in it first. */
  async removeDir(dir: string, options: { recursive?: boolean } = {}): Promise<void> {
    if (options.recursive) {
      for (const e of await this.list(dir)) {
        const child = `${dir.replace(/\/+$/, '')}/${e.name}`;
        if (e.type === 'dir') await this.removeDir(child, options);
        else await this.remove(child);
      }
    }
    await this.run(`RMD ${dir}`);
  }

  // ---- transfers ----

  private async setType(t: 'A' | 'I') {
    if (this.type === t) return;
    await this.ctl.expect(`TYPE ${t}`, 200);
    this.type = t;
  }

  private dataSettings() {
    const timeouts = { connect: 15_000, dataIdle: 60_000, ...this.options.timeouts };
    return {
      passive: this.options.passive !== false,
      trustPasvHost: this.options.trustPasvAddress === true,
      tls: this.protectedData ? { minVersion: 'TLSv1.2' as const, ...this.options.tls } : undefined,
      host: this.options.host,
      timeoutMs: timeouts.connect,
      idleTimeoutMs: timeouts.dataIdle,
    };
  }

  /**
   * One data transfer, holding the control connection throughout: set up the data connection,
   * send the command, move the bytes, and finish only when both the bytes and the final reply
   * are in. Abort sends ABOR and drains the replies so the connection stays usable.
   */
  private transfer<T>(command: string, type: 'A' | 'I', offset: number, signal: AbortSignal | undefined,
    move: (data: Duplex, abort: AbortSignal, stopEarly: () => void) => Promise<T>): Promise<T> {
    return this.ctl.exclusive(async () => {
      if (signal?.aborted) throw new AbortError();
      await this.setType(type);
      if (offset > 0) await this.ctl.expect(`REST ${offset}`, 350);
      const pending: PendingData = await prepareData(this.ctl, this.state, this.dataSettings());
      let data: Duplex | undefined;
      let final: Promise<ReplyText> | undefined;
      const inner = new AbortController();
      let aborted = false;
      const onAbort = () => {
        aborted = true;
        inner.abort();
        data?.destroy();
        pending.destroy();
        try { this.ctl.write('ABOR'); } catch { /* connection gone */ }
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        this.ctl.write(command);
        const first = await this.ctl.read();
        if (first.code >= 400) throw new FtpError(first.code, first.text, command);
        if (first.code >= 200) {
          // Some servers answer an empty listing with a final reply and no data connection.
          pending.destroy();
          return await move(Readable.from([]) as unknown as Duplex, inner.signal, () => {});
        }
        data = await pending.open();
        let stopped = false;
        // The final reply may come before the last bytes are read: listen for it from now, but
        // bound the wait only once the data is done (a long transfer has no reply to wait for).
        final = this.ctl.read(24 * 3600 * 1000);
        final.catch(() => {});
        const result = await move(data, inner.signal, () => { stopped = true; });
        if (stopped) {
          // The caller has what it wanted: close the data connection and ABOR the rest.
          data.destroy();
          this.ctl.write('ABOR');
          await this.drainAfterAbort(final);
          return result;
        }
        const done = await withTimeout(final, this.options.timeouts?.reply ?? 30_000, 'the reply after a transfer');
        if (done.code >= 400) throw new FtpError(done.code, done.text, command);
        return result;
      } catch (err) {
        data?.destroy();
        pending.destroy();
        if (aborted) { await this.drainAfterAbort(final); throw new AbortError(); }
        throw err;
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
    });
  }

  /**
   * After ABOR servers answer 426 then 226, or only 226 or 225, sometimes after the transfer's
   * own 226: read until a 2xx that follows the abort, then until the line is quiet.
   */
  private async drainAfterAbort(pendingFirst?: Promise<ReplyText>) {
    try {
      await this.readAbortReplies(pendingFirst);
    } catch (err) {
      // Without the replies to ABOR the next command's reply cannot be told apart: give up the line.
      this.ctl.destroy(err as Error);
      throw err;
    }
  }

  private async readAbortReplies(pendingFirst?: Promise<ReplyText>) {
    for (let i = 0; i < 4; i++) {
      let r: ReplyText;
      try {
        r = i === 0 && pendingFirst ? await withTimeout(pendingFirst, 10_000, 'the reply to ABOR') : await this.ctl.read(i === 0 ? 10_000 : 500, i > 0);
      } catch (err) {
        if (err instanceof FtpTimeoutError && i > 0) return;
        throw err;
      }
      if (r.code >= 200 && r.code < 300 && i > 0) return;
    }
  }

  private progress(p: string, direction: Progress['direction'], total: number | undefined, options: TransferOptions): ProgressCounter {
    const started = Date.now();
    let bytes = 0;
    let last = 0;
    const emit = (force: boolean) => {
      const now = Date.now();
      if (!force && now - last < 100) return;
      last = now;
      const info: Progress = { path: p, direction, bytes, total, rate: bytes / Math.max(0.001, (now - started) / 1000) };
      options.onProgress?.(info);
      this.emit('progress', info);
    };
    return {
      add: (n: number) => { bytes += n; emit(false); },
      done: () => emit(true),
      get bytes() { return bytes; },
    };
  }

  /** Download `remote` into a Writable or a local file path. Returns the bytes received. */
  async download(remote: string, destination: Writable | string, options: TransferOptions = {}): Promise<number> {
    const offset = options.offset ?? 0;
    // SIZE only when someone watches progress and the caller did not say: a round trip per file counts.
    const watched = options.onProgress !== undefined || this.listenerCount('progress') > 0;
    const total = options.total ?? (watched ? await this.size(remote).catch(() => undefined) : undefined);
    const counter = this.progress(remote, 'download', total, options);
    const limit = options.length;
    let dest: Writable;
    if (typeof destination === 'string') {
      // Opened, closed and (when small) written directly: on a local disk each costs microseconds,
      // a thread-pool round trip tens of them, which is most of a small file's time.
      const fd = fs.openSync(destination, offset ? 'r+' : 'w');
      if (!options.ascii && limit === undefined && fs.fstatSync(fd).isFile()) return this.downloadToFile(remote, fd, offset, counter, options.signal);
      // Pipes, terminals and devices (/dev/stdout) take sequential writes, not positioned ones.
      dest = fs.createWriteStream('', { fd, start: offset || undefined, highWaterMark: 1024 * 1024 });
    } else dest = destination;
    await this.transfer(`RETR ${remote}`, options.ascii ? 'A' : 'I', offset, options.signal, async (data, abort, stopEarly) => {
      const source: Readable = limit === undefined ? data : data.pipe(new Limit(limit, stopEarly));
      source.on('data', (c: Buffer) => counter.add(c.length));
      if (options.ascii) await pipeline(source, new CrlfToLf(), dest, { signal: abort });
      else await pipeline(source, dest, { signal: abort });
    });
    counter.done();
    return counter.bytes;
  }

  /**
   * Binary into a regular file: socket chunks gathered into writev batches of 1 MiB and more while
   * the socket keeps flowing (the server's upload path), instead of a write per 64 KiB chunk.
   */
  private async downloadToFile(remote: string, fd: number, offset: number, counter: ProgressCounter,
    signal: AbortSignal | undefined): Promise<number> {
    const writer = fdWriter(fd, false, fs.closeSync, true);
    try {
      await this.transfer(`RETR ${remote}`, 'I', offset, signal, async (data, abort) => {
        await pumpToFile(data, writer, offset, abort, (n) => counter.add(n));
      });
    } finally {
      await writer.close();
    }
    counter.done();
    return counter.bytes;
  }

  /**
   * Binary upload of a local file: 1 MiB positional reads into two reused buffers, each written
   * while the next is read (the server's download path), instead of a stream of fresh buffers.
   */
  private async uploadFile(file: string, remote: string, options: TransferOptions & { append?: boolean }): Promise<number> {
    const offset = options.offset ?? 0;
    const fh = await fsp.open(file, 'r');
    try {
      const size = (await fh.stat()).size;
      const counter = this.progress(remote, 'upload', size, options);
      const reader: FileReader = {
        size,
        read: async (buffer, length, position) => {
          const { bytesRead } = await fh.read(buffer, 0, length, position);
          counter.add(bytesRead);
          return bytesRead;
        },
        close: () => fh.close(),
      };
      const command = `${options.append ? 'APPE' : 'STOR'} ${remote}`;
      await this.transfer(command, 'I', options.append ? 0 : offset, options.signal, (data, abort) => pumpFile(reader, offset, data, abort));
      counter.done();
      return counter.bytes;
    } finally {
      await fh.close().catch(() => undefined);
    }
  }

  /** Upload a Readable or a local file to `remote`; `offset` resumes (REST), `append` uses APPE. */
  async upload(source: Readable | string, remote: string, options: TransferOptions & { append?: boolean } = {}): Promise<number> {
    const offset = options.offset ?? 0;
    let total: number | undefined;
    let input: Readable;
    if (typeof source === 'string') {
      const st = await fsp.stat(source);
      // Positioned reads need a regular file; a pipe (/dev/stdin) or device is streamed.
      if (st.isFile() && !options.ascii) return this.uploadFile(source, remote, options);
      total = st.isFile() ? st.size : undefined;
      // No start on a pipe or device: positioned reads fail there.
      input = fs.createReadStream(source, { start: offset || undefined, highWaterMark: 1024 * 1024 });
    } else input = source;
    const counter = this.progress(remote, 'upload', total, options);
    const command = `${options.append ? 'APPE' : 'STOR'} ${remote}`;
    await this.transfer(command, options.ascii ? 'A' : 'I', options.append ? 0 : offset, options.signal, async (data, abort) => {
      input.on('data', (c: Buffer) => counter.add(c.length));
      if (options.ascii) await pipeline(input, new LfToCrlf(), data, { signal: abort });
      else await pipeline(input, data, { signal: abort });
    });
    counter.done();
    return counter.bytes;
  }

  append(source: Readable | string, remote: string, options: TransferOptions = {}): Promise<number> {
    return this.upload(source, remote, { ...options, append: true });
  }

  /** Folder entries, from MLSD when the server has it, else LIST in whatever format it speaks. */
  async list(dir = ''): Promise<FileInfo[]> {
    const useMlsd = this.features.has('MLST');
    const command = (useMlsd ? 'MLSD' : 'LIST') + (dir ? ` ${dir}` : '');
    const text = await this.transfer(command, 'A', 0, undefined, async (data) => {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const c of data as AsyncIterable<Buffer>) {
        size += c.length;
        if (size > 512 * 1024 * 1024) throw new Error('listing larger than 512 MiB');
        chunks.push(c);
      }
      return Buffer.concat(chunks).toString('utf8');
    });
    return parseListing(text);
  }

  /** Facts about one path (MLST), or undefined when the server lacks MLST or the path is missing. */
  async stat(file: string): Promise<FileInfo | undefined> {
    if (!this.features.has('MLST')) return undefined;
    const r = await this.send(`MLST ${file}`);
    if (r.code !== 250) return undefined;
    const line = r.lines.find((l, i) => i > 0 && l.startsWith(' '));
    const info = line ? parseMlsxLine(line) : undefined;
    if (info) { info.name = path.posix.basename(info.name); delete (info as { facts?: unknown }).facts; }
    return info;
  }

  async close(): Promise<void> {
    await this.ctl.exclusive(() => this.ctl.close());
  }
}

/** Pass at most `max` bytes, then end and report that the limit was reached. */
class Limit extends Transform {
  private left: number;
  constructor(max: number, private readonly reached: () => void) { super(); this.left = max; }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void) {
    if (this.left <= 0) { cb(); return; }
    const part = chunk.length <= this.left ? chunk : chunk.subarray(0, this.left);
    this.left -= part.length;
    cb(null, part);
    if (this.left === 0) { this.push(null); this.reached(); }
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new FtpTimeoutError(what)), ms); }),
  ]);
}

function urlOptions(text: string): FtpClientOptions {
  const u = parseFtpUrl(text);
  return { host: u.host, port: u.port, user: u.user, password: u.password, security: u.security };
}
