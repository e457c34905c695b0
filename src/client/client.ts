// FtpClient: connect, log in, learn the server's features, and the high-level file operations.
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import tls from 'node:tls';
import type { Readable, Writable } from 'node:stream';
import { isSafeName, unquotePath } from '../protocol/path.js';
import { parseTimeVal, formatTimeVal, type FileInfo } from '../protocol/listing.js';
import { parseMlsxLine } from '../protocol/listing-parse.js';
import { VERSION } from '../version.js';
import { ControlConnection, type ReplyText } from './control.js';
import { clientTimeouts, TransferRunner } from './transfer.js';
import { fromFile, fromStream, intoFile, intoStream } from './local-io.js';
import { readListing } from './listing-reader.js';
import { AbortError, FtpError } from './errors.js';
import { parseFtpUrl, type Security } from './url.js';
import { progressCounter, type Progress, type ProgressCounter } from './progress.js';

// Where it has always been exported from; the modules that throw it import it from errors.ts.
export { AbortError } from './errors.js';
export type { Progress } from './progress.js';

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
  /** In ms: connecting (control and data, default 15 s), each reply (30 s), a data connection with nothing moving (60 s). */
  timeouts?: { connect?: number; reply?: number; dataIdle?: number };
  /** Receives each command and reply line (passwords redacted), for debugging. */
  log?: (line: string) => void;
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
  /** Bandwidth for this transfer, bytes per second (curl's --limit-rate); default none. */
  maxRate?: number;
}

/** Folder levels `removeDir({ recursive })` goes down at most. */
const MAX_REMOVE_DEPTH = 64;

/**
 * A restart offset in ASCII mode is refused: RFC 3659 counts it in octets as transferred (CRLF
 * line ends), wharf's server does so, others take it as a file position, and a local file holds
 * neither count. Resuming there would duplicate or lose line ends without an error.
 */
function asciiRestartError(options: TransferOptions): TypeError | undefined {
  if (options.ascii && options.offset) return new TypeError('a transfer in ASCII mode cannot resume at an offset: servers count it differently; transfer the whole file or use binary mode');
  return undefined;
}

/** A typed FTP/FTPS client; every method is safe to call while another is running (they queue). */
export class FtpClient extends EventEmitter {
  readonly features = new Map<string, string>();
  private readonly transfers: TransferRunner;

  private constructor(private readonly ctl: ControlConnection, readonly options: FtpClientOptions) {
    super();
    this.transfers = new TransferRunner(ctl, options);
  }

  /** Connect and log in, from a URL (`ftp://user:pass@host/`) or options. */
  static async connect(target: string | FtpClientOptions, extra: Partial<FtpClientOptions> = {}): Promise<FtpClient> {
    const options: FtpClientOptions = typeof target === 'string' ? { ...urlOptions(target), ...extra } : { ...target, ...extra };
    const security = options.security ?? 'none';
    const timeouts = clientTimeouts(options.timeouts);
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
        client.transfers.protectedData = true;
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
  //
  // Every public method takes its place in the control connection's queue when it is called, and
  // holds it for all its commands: calls made without awaiting act in the order they were made
  // (an upload started before a cd() lands in the folder that was current when it was called).
  // The *Locked helpers assume the caller holds the queue.

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

  /** MKD; RFC 959 says 257, some servers say 250, and both mean the folder was made. */
  async mkdir(dir: string): Promise<void> { await this.run(`MKD ${dir}`, 257, 250); }

  async rename(from: string, to: string): Promise<void> {
    await this.ctl.exclusive(async () => {
      await this.ctl.expect(`RNFR ${from}`, 350);
      await this.ctl.expect(`RNTO ${to}`);
    });
  }

  async remove(file: string): Promise<void> { await this.run(`DELE ${file}`); }

  async chmod(file: string, mode: number): Promise<void> { await this.run(`SITE CHMOD ${mode.toString(8)} ${file}`); }

  size(file: string): Promise<number> {
    return this.ctl.exclusive(() => this.sizeLocked(file));
  }

  private async sizeLocked(file: string): Promise<number> {
    await this.transfers.setType('I');
    const r = await this.ctl.expect(`SIZE ${file}`, 213);
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
    await this.run(`MFMT ${formatTimeVal(date).replace(/\.\d+$/, '')} ${file}`, 213);
  }

  /** mkdir -p: create every missing folder on the way; existing ones are fine. */
  ensureDir(dir: string): Promise<void> {
    return this.ctl.exclusive(async () => {
      const absolute = dir.startsWith('/');
      const parts = dir.split('/').filter(Boolean);
      let current = absolute ? '' : '.';
      for (const part of parts) {
        current = absolute || current !== '.' ? `${current}/${part}` : part;
        const r = await this.ctl.raw(`MKD ${current}`);
        if (r.code === 257 || r.code === 250) continue;
        // Exists already? Then CWD into it works; otherwise the MKD error stands.
        const probe = await this.ctl.raw(`MLST ${current}`);
        const isDir = probe.code === 250 ? /type=(dir|cdir|pdir)/i.test(probe.text) : await this.isDirByCwd(current);
        if (!isDir) throw new FtpError(r.code, r.text, `MKD ${current}`);
      }
    });
  }

  private async isDirByCwd(dir: string): Promise<boolean> {
    const here = await this.ctl.raw('PWD');
    const r = await this.ctl.raw(`CWD ${dir}`);
    if (r.code !== 250) return false;
    const back = unquotePath(here.text);
    if (back) await this.ctl.raw(`CWD ${back}`);
    return true;
  }

  /**
   * Remove a folder; with `recursive`, everything in it first. Links are removed, never followed:
   * some servers (pyftpdlib's MLSD) report a link to a folder as a folder, so each entry reported
   * as a folder is first deleted as a file (DELE removes a link and fails on a real folder), and
   * only a real folder is entered, once (a folder met again by its MLSD `unique` fact is a loop).
   */
  removeDir(dir: string, options: { recursive?: boolean } = {}): Promise<void> {
    return this.ctl.exclusive(() => this.removeDirLocked(dir, options.recursive === true, new Set(), 0));
  }

  private async removeDirLocked(dir: string, recursive: boolean, visited: Set<string>, depth: number): Promise<void> {
    if (recursive) {
      // A server that shows a folder in every folder (no `unique` fact to spot the loop) is not followed for ever.
      if (depth >= MAX_REMOVE_DEPTH) throw new Error(`${dir}: more than ${MAX_REMOVE_DEPTH} levels of folders; not removing deeper`);
      for (const e of await this.listLocked(dir)) {
        // A name from the listing is one path component: `../x`, `/etc/passwd` or `a\b` would
        // reach outside the folder being removed (a hostile server, or a name with a newline
        // that forged a listing line).
        if (!isSafeName(e.name)) continue;
        const child = `${dir.replace(/\/+$/, '')}/${e.name}`;
        if (e.type !== 'dir') { await this.ctl.expect(`DELE ${child}`); continue; }
        const asFile = await this.ctl.raw(`DELE ${child}`);
        if (asFile.code >= 200 && asFile.code < 300) continue; // a link (or a file) named as a folder
        const unique = e.unique;
        if (unique !== undefined) {
          if (visited.has(unique)) throw new FtpError(asFile.code, asFile.text, `RMD ${child} (a folder already visited: a link loop?)`);
          visited.add(unique);
        }
        await this.removeDirLocked(child, true, visited, depth + 1);
      }
    }
    await this.ctl.expect(`RMD ${dir}`);
  }

  // ---- transfers ----

  /** download() and upload() take their place in the queue here, unless refused at once. */
  private queueTransfer(options: TransferOptions, transfer: (offset: number) => Promise<number>): Promise<number> {
    const refused = asciiRestartError(options);
    if (refused) return Promise.reject(refused);
    return this.ctl.exclusive(async () => {
      if (options.signal?.aborted) throw new AbortError();
      return transfer(options.offset ?? 0);
    });
  }

  /** A transfer's progress goes to its own `onProgress` and to the client's 'progress' listeners. */
  private progress(file: string, direction: Progress['direction'], total: number | undefined, options: TransferOptions): ProgressCounter {
    return progressCounter(file, direction, total, (info) => {
      options.onProgress?.(info);
      this.emit('progress', info);
    });
  }

  /**
   * Download `remote` into a Writable or a local file path. Returns the bytes received.
   * A local file is opened (and truncated) only once the server has accepted the RETR and the
   * data connection is open: a missing remote file leaves an existing local one untouched, and a
   * file this call created is removed again when the transfer fails before its first byte.
   */
  download(remote: string, destination: Writable | string, options: TransferOptions = {}): Promise<number> {
    return this.queueTransfer(options, async (offset) => {
      // SIZE only when someone watches progress and the caller did not say: a round trip per file counts.
      const watched = options.onProgress !== undefined || this.listenerCount('progress') > 0;
      const total = options.total ?? (watched ? await this.sizeLocked(remote).catch((err) => {
        if (err instanceof FtpError) return undefined;
        throw err;
      }) : undefined);
      const counter = this.progress(remote, 'download', total, options);
      const command = `RETR ${remote}`;
      const type = options.ascii ? 'A' : 'I';
      const local = { ascii: options.ascii, limit: options.length, rate: options.maxRate, count: (n: number) => counter.add(n) };
      if (typeof destination !== 'string') {
        await this.transfers.run(command, type, offset, options.signal, intoStream(destination, local));
        counter.done();
        return counter.bytes;
      }
      let created = false;
      try {
        await this.transfers.run(command, type, offset, options.signal, intoFile(destination, offset, { ...local, onCreated: () => { created = true; } }));
      } catch (err) {
        if (created && counter.bytes === 0) fs.rmSync(destination, { force: true });
        throw err;
      }
      counter.done();
      return counter.bytes;
    });
  }

  /** Binary upload of a regular file, by positioned reads rather than a stream (see fromFile). */
  private async uploadFileLocked(file: string, remote: string, options: TransferOptions & { append?: boolean }): Promise<number> {
    const offset = options.offset ?? 0;
    const fh = await fsp.open(file, 'r');
    try {
      const size = (await fh.stat()).size;
      const counter = this.progress(remote, 'upload', size, options);
      const command = `${options.append ? 'APPE' : 'STOR'} ${remote}`;
      await this.transfers.run(command, 'I', options.append ? 0 : offset, options.signal, fromFile(fh, size, offset, (n) => counter.add(n)));
      counter.done();
      return counter.bytes;
    } finally {
      await fh.close().catch(() => undefined);
    }
  }

  /** Upload a Readable or a local file to `remote`; `offset` resumes (REST), `append` uses APPE. */
  upload(source: Readable | string, remote: string, options: TransferOptions & { append?: boolean } = {}): Promise<number> {
    return this.queueTransfer(options, async (offset) => {
      let total: number | undefined;
      let input: Readable;
      if (typeof source === 'string') {
        const st = await fsp.stat(source);
        // Positioned reads need a regular file; a pipe (/dev/stdin) or device is streamed.
        if (st.isFile() && !options.ascii && !options.maxRate) return this.uploadFileLocked(source, remote, options);
        total = st.isFile() ? st.size : undefined;
        input = fs.createReadStream(source, { highWaterMark: 1024 * 1024 });
      } else input = source;
      // A path resumes from `offset` into its source, as a regular file does; a pipe or device has
      // no positions, so its first bytes are read and dropped. A Readable is the rest already.
      const skip = typeof source === 'string' ? offset : 0;
      const counter = this.progress(remote, 'upload', total, options);
      const command = `${options.append ? 'APPE' : 'STOR'} ${remote}`;
      try {
        await this.transfers.run(command, options.ascii ? 'A' : 'I', options.append ? 0 : offset, options.signal, fromStream(input, { ascii: options.ascii, skip, rate: options.maxRate, count: (n) => counter.add(n) }));
      } finally {
        // A file opened here and never piped (the transfer failed first) is closed here.
        if (typeof source === 'string') input.destroy();
      }
      counter.done();
      return counter.bytes;
    });
  }

  append(source: Readable | string, remote: string, options: TransferOptions = {}): Promise<number> {
    return this.upload(source, remote, { ...options, append: true });
  }

  /** Folder entries, from MLSD when the server has it, else LIST in whatever format it speaks. */
  list(dir = ''): Promise<FileInfo[]> {
    return this.ctl.exclusive(() => this.listLocked(dir));
  }

  /** The server listed MLST in FEAT but answered MLSD with 500/502/504: LIST from then on. */
  private mlsdRefused = false;

  private async listLocked(dir: string): Promise<FileInfo[]> {
    const useMlsd = this.features.has('MLST') && !this.mlsdRefused;
    if (useMlsd) {
      try {
        return await this.transfers.run(`MLSD${dir ? ` ${dir}` : ''}`, 'A', 0, undefined, readListing);
      } catch (err) {
        // MLST without MLSD (RFC 3659 lets a server have one alone), or MLSD switched off:
        // "not implemented" is about the command, not the folder; a 550 stands.
        if (!(err instanceof FtpError) || ![500, 502, 504].includes(err.code)) throw err;
        this.mlsdRefused = true;
      }
    }
    return this.listByListLocked(dir);
  }

  private async listByListLocked(dir: string): Promise<FileInfo[]> {
    // LIST's argument is read by vsftpd, Pure-FTPd and others as `ls` options when it starts with
    // '-' (`LIST -dashdir` lists the current folder): such a relative name goes as `./-dashdir`.
    // MLSD takes a plain path name (RFC 3659).
    const arg = dir.startsWith('-') ? `./${dir}` : dir;
    return this.transfers.run(`LIST${arg ? ` ${arg}` : ''}`, 'A', 0, undefined, readListing);
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

  /**
   * QUIT and close. A transfer running now is aborted (ABOR) rather than waited for, and so is any
   * transfer queued before this call that has not started: they reject with AbortError. Other
   * calls queued before this one still run, in order.
   */
  async close(): Promise<void> {
    this.transfers.abortAll();
    await this.ctl.exclusive(() => this.ctl.close());
  }
}

function urlOptions(text: string): FtpClientOptions {
  const u = parseFtpUrl(text);
  return { host: u.host, port: u.port, user: u.user, password: u.password, security: u.security };
}
