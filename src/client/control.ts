// The client's control connection: one command at a time, replies matched in order, TLS upgrade.
import net from 'node:net';
import tls from 'node:tls';
import { ReplyParser, type Reply } from '../protocol/reply.js';
import { formatCommand } from '../protocol/command-line.js';
import { FtpConnectionError, FtpError, FtpTimeoutError, redact } from './errors.js';

export interface ControlOptions {
  host: string;
  port: number;
  /** TLS from the first byte (implicit FTPS). */
  implicitTls?: boolean;
  tls?: tls.ConnectionOptions;
  connectTimeoutMs: number;
  replyTimeoutMs: number;
  log?: (line: string) => void;
}

export interface ReplyText extends Reply { text: string }

const MAX_UNREAD_REPLIES = 32;

/**
 * Commands are serialised with a lock: a caller holds it for a whole exchange (a transfer needs
 * its preliminary and final replies), so overlapping calls from an application never interleave.
 */
export class ControlConnection {
  socket!: net.Socket | tls.TLSSocket;
  private parser = new ReplyParser();
  private replies: ReplyText[] = [];
  /** Readers waiting for replies, served in order (a transfer waits for its final reply while an ABOR drain may queue behind it). */
  private waiters: { resolve: (r: ReplyText) => void; reject: (e: Error) => void }[] = [];
  private failure: Error | undefined;
  private lockTail: Promise<void> = Promise.resolve();
  greeting!: ReplyText;

  private constructor(private readonly options: ControlOptions) {}

  static async open(options: ControlOptions): Promise<ControlConnection> {
    const c = new ControlConnection(options);
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = options.implicitTls
        ? tls.connect({ host: options.host, port: options.port, servername: net.isIP(options.host) ? undefined : options.host, ...options.tls })
        : net.connect({ host: options.host, port: options.port });
      const timer = setTimeout(() => { s.destroy(); reject(new FtpTimeoutError(`connecting to ${options.host}:${options.port}`)); }, options.connectTimeoutMs);
      s.once(options.implicitTls ? 'secureConnect' : 'connect', () => { clearTimeout(timer); s.removeAllListeners('error'); resolve(s); });
      s.once('error', (err) => { clearTimeout(timer); reject(new FtpConnectionError(`cannot connect to ${options.host}:${options.port}: ${err.message}`, err)); });
    });
    c.attach(socket);
    c.greeting = await c.read();
    // RFC 959: 120 ("ready in n minutes") comes before the 220.
    for (let i = 0; i < 3 && c.greeting.code === 120; i++) c.greeting = await c.read();
    if (c.greeting.code !== 220) throw new FtpError(c.greeting.code, c.greeting.text, 'connect');
    return c;
  }

  private attach(socket: net.Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      let got: Reply[];
      try { got = this.parser.push(chunk); } catch (err) { this.fail(new FtpConnectionError((err as Error).message)); return; }
      for (const r of got) {
        const reply = { ...r, text: r.lines.join('\n') };
        this.options.log?.(`< ${reply.code} ${reply.text}`);
        const w = this.waiters.shift();
        if (w) { w.resolve(reply); continue; }
        // Replies nobody asked for are kept for the next reader, a few at most: a server that
        // floods them would otherwise grow our memory without end.
        if (this.replies.length >= MAX_UNREAD_REPLIES) {
          this.destroy(new FtpConnectionError('the server sent replies to commands never sent'));
          return;
        }
        this.replies.push(reply);
      }
    });
    socket.on('error', (err) => this.fail(new FtpConnectionError(`control connection: ${err.message}`, err)));
    socket.on('close', () => {
      // A server that hangs up on its own says why first (ProFTPD: "421 Idle timeout (600
      // seconds): closing control connection"); that reply, unread, is the reason to report.
      const last = this.replies.at(-1);
      this.fail(new FtpConnectionError(`control connection closed${last?.code === 421 ? ` by the server: ${last.code} ${last.text}` : ''}`));
    });
  }

  private fail(err: Error) {
    if (!this.failure) this.failure = err;
    for (const w of this.waiters.splice(0)) w.reject(err);
  }

  get closed(): boolean { return this.failure !== undefined; }
  get remoteAddress(): string { return this.socket.remoteAddress ?? this.options.host; }
  get localAddress(): string { return this.socket.localAddress ?? ''; }
  get tlsSession(): Buffer | undefined { return (this.socket as tls.TLSSocket).getSession?.() ?? undefined; }
  get secure(): boolean { return this.socket instanceof tls.TLSSocket; }

  /**
   * The next reply, whatever it is. A timeout breaks the connection (replies would be out of step)
   * unless `quiet`: then it only means nothing more came, as when draining after ABOR.
   */
  read(timeoutMs = this.options.replyTimeoutMs, quiet = false): Promise<ReplyText> {
    const queued = this.replies.shift();
    if (queued) return Promise.resolve(queued);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (r: ReplyText) => { clearTimeout(timer); resolve(r); },
        reject: (e: Error) => { clearTimeout(timer); reject(e); },
      };
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        const err = new FtpTimeoutError('waiting for a reply');
        // The late reply would be taken as the next command's: later calls fail at once instead.
        if (!quiet) this.destroy(new FtpConnectionError('control connection dropped: a reply timed out, replies would be out of step', err));
        reject(err);
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** A note of the client's own in the conversation log (not sent). */
  note(text: string): void { this.options.log?.(`# ${text}`); }

  write(command: string): void {
    if (this.failure) throw this.failure;
    this.options.log?.(`> ${redact(command)}`);
    this.socket.write(formatCommand(command));
  }

  /**
   * Send a command that opens no data connection and return its final reply: a preliminary 1xx
   * is followed by the real answer, and taking it as the answer would put every later reply one
   * step behind. (Transfers read their 1xx themselves.)
   */
  async raw(command: string): Promise<ReplyText> {
    this.write(command);
    let r = await this.read();
    for (let i = 0; i < 4 && r.code < 200; i++) r = await this.read();
    return r;
  }

  /** Send and require a positive (1xx-3xx) reply, else throw FtpError. */
  async expect(command: string, ...codes: number[]): Promise<ReplyText> {
    const r = await this.raw(command);
    if (codes.length ? !codes.includes(r.code) : r.code >= 400) throw new FtpError(r.code, r.text, command);
    return r;
  }

  /** Run `fn` with the connection to itself; later callers wait their turn. */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const prev = this.lockTail;
    let release!: () => void;
    this.lockTail = new Promise<void>((r) => (release = r));
    await prev;
    try { return await fn(); } finally { release(); }
  }

  /** AUTH TLS, then the TLS handshake on the same socket. */
  async upgrade(options: tls.ConnectionOptions): Promise<void> {
    const r = await this.raw('AUTH TLS');
    if (r.code !== 234) throw new FtpError(r.code, r.text, 'AUTH TLS');
    // Anything that came in clear with or after the 234 would be read as answers to protected
    // commands (a man in the middle's "230", as in curl's CVE-2021-22947): refuse to go on.
    if (this.replies.length > 0 || this.parser.holdsText) {
      const err = new FtpConnectionError('the server sent more in clear text after 234 (AUTH TLS): refusing to continue');
      this.destroy(err);
      throw err;
    }
    this.parser = new ReplyParser();
    const raw = this.socket;
    raw.removeAllListeners('data');
    raw.removeAllListeners('close');
    raw.removeAllListeners('error');
    // Errors of the plain socket also surface on the TLS socket wrapping it; don't let them go unhandled here.
    raw.on('error', () => {});
    const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const host = this.options.host;
      // `host` is the name the certificate is checked against; without it Node checks "localhost".
      const s = tls.connect({ socket: raw, host, servername: net.isIP(host) ? undefined : host, ...options });
      const timer = setTimeout(() => { s.destroy(); reject(new FtpTimeoutError('TLS handshake')); }, this.options.connectTimeoutMs);
      s.once('secureConnect', () => { clearTimeout(timer); s.removeAllListeners('error'); resolve(s); });
      s.once('error', (err) => { clearTimeout(timer); reject(new FtpConnectionError(`TLS handshake failed: ${err.message}`, err)); });
    }).catch((err: Error) => {
      // Half-upgraded, the line is good for nothing (not even QUIT): close() must not wait for a reply.
      this.destroy(err);
      throw err;
    });
    this.attach(secure);
  }

  /** Break the connection (replies out of step): every waiting reader fails with `err`. */
  destroy(err: Error): void {
    this.fail(err);
    this.socket.destroy();
  }

  /** QUIT politely, then close whatever happens. */
  async close(): Promise<void> {
    if (!this.failure) {
      try { this.write('QUIT'); await this.read(2000); } catch { /* closing anyway */ }
    }
    this.socket.end();
    this.socket.destroy();
  }
}
