// One control connection: its state, the reply writer, the ordered dispatch loop and running transfers.
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { CommandLineSplitter, parseCommandLine } from '../protocol/command-line.js';
import { formatReply } from '../protocol/reply.js';
import { normalizeIp } from '../protocol/address.js';
import { resolveVirtual } from '../protocol/path.js';
import { MLST_FACTS, type MlstFact } from '../protocol/listing.js';
import { FtpReplyError } from './errors.js';
import { StorageError, type Storage } from './storage/storage.js';
import type { Account } from './auth/authenticator.js';
import type { Permission } from './permissions.js';
import { PassiveListener, connectActive, secureDataSocket, DataChannelError } from './data-channel.js';
import { serverTlsSocket } from './tls-socket.js';
import type { TransferRates } from '../transfer-limits.js';
import { slabReader, steerableSocket } from '../io/read-sink.js';
import { COMMANDS } from './commands/index.js';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ServerContext } from './context.js';
import { monotonicNow } from './policy/timeout-sweep.js';

/** Commands answered at once even while a transfer runs (RFC 959 asks this of ABOR and STAT). */
const DURING_TRANSFER = new Set(['ABOR', 'STAT', 'NOOP']);
/** Commands that keep a pending RNFR / REST alive when they come in between. */
const KEEPS_RENAME = new Set(['RNTO']);
const MAX_QUEUED_LINES = 64;
/** Shared by every session until OPTS MLST replaces it (never mutated). */
const DEFAULT_FACTS: ReadonlySet<MlstFact> = new Set<MlstFact>(MLST_FACTS);
const MAX_UNREAD_REPLIES = 1024 * 1024;
const IMMEDIATE_REPLY_LIMIT = 64 * 1024;
/** Bytes split into lines at a time (a command line's limit by default). */
const SPLIT_SLICE = 4096;
const UPLOADS_REMEMBERED = 1000;
/** Commands whose argument is a secret: never logged. */
const SECRET_ARGS = new Set(['PASS', 'ACCT', 'ADAT']);

type DataSetup =
  | { kind: 'passive'; listener: PassiveListener }
  | { kind: 'active'; host: string; port: number };

interface RunningTransfer {
  abort(): void;
  done: Promise<void>;
  bytes: () => number;
  what: string;
}

/**
 * How long `226` for a small download waits for the client to close its end of the data
 * connection (see runTransfer). Clients close on end of data, so this is only for one that does
 * not before it has the reply.
 */
const SMALL_CLOSE_WAIT_MS = 50;

export interface TransferSpec {
  /** Text of the 150 reply. */
  opening: string;
  /** Moves the bytes; returns how many crossed the data connection. */
  run(data: Duplex, aborted: AbortSignal): Promise<number>;
  /** Text of the 226 reply. */
  complete?: (bytes: number) => string;
  what: string;
  /** The transfer reads the data connection (an upload): a plain one is made steerable. */
  inbound?: boolean;
  /** The whole transfer is one small write: 150 and 226 may leave in one packet. */
  small?: boolean;
}

let nextSessionId = 1;

/** The session a control socket serves: every session shares one set of listener functions. */
const SESSION = Symbol('wharf.session');
type ControlSocket = net.Socket & { [SESSION]?: Session };

export class Session {
  readonly id = nextSessionId++;
  socket: net.Socket;
  readonly remoteAddress: string;
  /** Set on first use (a getsockname call): most sessions that only log in never need it. */
  private local: string | undefined;
  /** The accepted TCP socket, under TLS too (this.socket becomes the TLS one). */
  private readonly tcp: net.Socket;
  readonly startedAt = Date.now();
  /** Last command read or reply written (on the sweep's clock, as every deadline here). */
  private lastActive = monotonicNow();
  /** When an unauthenticated session is closed; 0 once logged in (or with no login timeout). */
  private loginDue: number;

  /** Control connection protected by TLS (AUTH TLS done, or implicit FTPS). */
  secure: boolean;
  /** The TLS context of the control connection, which its data connections use too. */
  private tlsContext: tls.SecureContext | undefined;
  implicitTls: boolean;
  pbszSet = false;
  protection: 'C' | 'P';

  pendingUser: string | undefined;
  account: Account | undefined;
  storage: Storage | undefined;
  loginAttempts = 0;
  cwd = '/';
  type: 'A' | 'I' = 'A';
  restOffset = 0;
  renameFrom: string | undefined;
  epsvAll = false;
  mlstFacts: ReadonlySet<MlstFact> = DEFAULT_FACTS;
  clientName: string | undefined;
  hostName: string | undefined;

  private data: DataSetup | undefined;
  /** Kept across transfers (see PassiveListener); closed with the session. */
  private passive: PassiveListener | undefined;
  transfer: RunningTransfer | undefined;
  private splitter: CommandLineSplitter;
  private queue: string[] = [];
  private busy = false;
  /** Bytes read but not yet split into lines, while the queue is full. */
  private held: Buffer | undefined;
  /** Set by end() (QUIT, 421): nothing the client sent after that runs. */
  private ending = false;
  /** The client has closed its sending side (FIN): what it sent before still runs, then the session ends. */
  private peerEnded = false;
  private closed = false;
  private lastReplyCode = 0;
  /** Rate-limit states (see RateLimit): when the command and error buckets are full again. */
  private commandsFullAt = 0;
  private errorsFullAt = 0;
  /** The command the loop runs now, a transfer's cleanup included: server shutdown waits for it. */
  private running: Promise<void> | undefined;

  constructor(readonly ctx: ServerContext, socket: net.Socket, implicitTls: boolean) {
    this.socket = socket;
    this.tcp = socket;
    this.remoteAddress = normalizeIp(socket.remoteAddress ?? '');
    this.secure = implicitTls;
    this.implicitTls = implicitTls;
    this.protection = implicitTls ? 'P' : 'C';
    this.splitter = new CommandLineSplitter(ctx.options.maxCommandLength);
    this.loginDue = this.loginDeadline();
    if (implicitTls) this.wrapTls(socket, ctx.sessionTlsContext()!);
    else this.attach(socket);
  }

  get log() { return this.ctx.logger; }

  /** The address the client reached this server on; for passive listeners and active connects. */
  get localAddress(): string {
    if (this.local === undefined) {
      const address = this.tcp.localAddress;
      if (!address) throw new FtpReplyError(421, 'Connection closed.');
      this.local = normalizeIp(address);
    }
    return this.local;
  }

  /** What events and admin tools see of this session. */
  info() {
    return { id: this.id, remoteAddress: this.remoteAddress, username: this.account?.username, secure: this.secure };
  }

  // Listeners shared by all sessions (`this` is the socket): closures and timers per socket cost
  // about a kilobyte of every idle session's memory.
  private static onData(this: ControlSocket, chunk: Buffer) { this[SESSION]!.receive(chunk); }
  private static onError(this: ControlSocket, err: Error) {
    const s = this[SESSION]!;
    s.log.debug({ session: s.id, err: err.message }, 'control connection error');
  }
  private static onClose(this: ControlSocket) { this[SESSION]!.cleanup(); }
  private static onEnd(this: ControlSocket) { this[SESSION]!.peerEnd(); }
  private static onDrain(this: ControlSocket) { this[SESSION]!.maybeResume(); }

  private attach(socket: ControlSocket) {
    socket[SESSION] = this;
    socket.setNoDelay(true);
    socket.on('data', Session.onData);
    socket.on('error', Session.onError);
    socket.on('close', Session.onClose);
    socket.on('drain', Session.onDrain);
    socket.on('end', Session.onEnd);
  }

  /**
   * The client sent FIN. The control socket is half-open (as the listening server makes it), so
   * the commands it sent before, a running transfer included, are still carried out and answered,
   * as other servers do (`printf 'USER..PASS..RETR..' | nc -N`); then the session ends. Closing
   * the whole connection at once lost those replies whenever a command had to wait (a hashed
   * password's check) and cut a running transfer.
   */
  private peerEnd() {
    this.peerEnded = true;
    if (!this.busy && !this.ending) this.end();
  }

  /**
   * Called by the server's sweep, one timer for every session. A running transfer has its own
   * stall timeout; after it, the idle time counts from its last reply.
   */
  checkTimeouts(now: number) {
    if (this.closed || this.ending) return;
    if (this.loginDue !== 0 && now >= this.loginDue) { this.timeout('Login timeout'); return; }
    const idle = this.ctx.options.timeouts.idle;
    if (idle > 0 && !this.transfer && now - this.lastActive >= idle) this.timeout('Idle timeout');
  }

  greet() {
    this.reply(220, this.ctx.options.greeting);
  }

  // ---- replies ----

  reply(code: number, text: string | string[]): void {
    this.lastReplyCode = code;
    this.lastActive = monotonicNow();
    if (this.closed || this.socket.destroyed || !this.socket.writable) return;
    this.socket.write(formatReply(code, text));
  }

  private timeout(why: string) {
    this.log.info({ session: this.id, remote: this.remoteAddress }, why);
    this.reply(421, `${why}, closing control connection.`);
    this.end();
  }

  /** Make room for a newer connection from the same address (see maxSessionsPerAddress). */
  evict(why: string) {
    this.log.info({ session: this.id, remote: this.remoteAddress }, 'idle connection evicted');
    this.reply(421, why);
    this.end();
  }

  /** Close after the last reply is flushed; destroy if the peer does not read it. */
  end() {
    if (this.closed) return;
    this.ending = true;
    this.queue = [];
    this.held = undefined;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  // ---- the command loop ----

  private receive(chunk: Buffer) {
    if (this.ending) return;
    this.lastActive = monotonicNow();
    // Split a slice at a time, and keep what is left of a read as bytes once the queue is full:
    // a 64 KiB read of 'STAT' lines is 11,000 queued strings (half a megabyte a session) else.
    let rest = chunk;
    while (rest.length > 0) {
      if (this.queue.length > MAX_QUEUED_LINES) {
        this.held = this.held ? Buffer.concat([this.held, rest]) : rest;
        break;
      }
      this.split(rest.subarray(0, SPLIT_SLICE));
      rest = rest.subarray(SPLIT_SLICE);
    }
    // A client that floods commands without reading replies is slowed, not buffered without end.
    if (this.held || this.queue.length > MAX_QUEUED_LINES || this.socket.writableLength > MAX_UNREAD_REPLIES) this.socket.pause();
    void this.pump();
  }

  private split(bytes: Buffer) {
    for (const ev of this.splitter.push(bytes)) {
      if (ev.kind === 'too-long') { this.enqueueReply(500, 'Command line too long.'); continue; }
      if (ev.kind === 'invalid') { this.enqueueReply(501, `Rejected: ${ev.reason}.`); continue; }
      if (ev.line.trim() === '') continue;
      const verb = parseCommandLine(ev.line).verb;
      // Answered at once, but only while the client reads its replies: a flood of STATs during
      // a stalled transfer joins the queue instead, and the queue's limit stops reading. STAT
      // and NOOP keep their place behind commands already queued; ABOR is urgent.
      if (this.transfer && DURING_TRANSFER.has(verb) && (this.queue.length === 0 || verb === 'ABOR') &&
        this.socket.writableLength <= IMMEDIATE_REPLY_LIMIT) {
        void this.execute(ev.line);
        continue;
      }
      this.queue.push(ev.line);
    }
  }

  /** Read again once the queue has room and the client has taken its replies (bytes held back first). */
  private maybeResume() {
    if (this.closed || this.queue.length >= MAX_QUEUED_LINES / 4) return;
    if (this.held) {
      const held = this.held;
      this.held = undefined;
      this.receive(held);
      return;
    }
    if (this.socket.isPaused() && this.socket.writableLength <= MAX_UNREAD_REPLIES) this.socket.resume();
  }

  /** Errors found while splitting are answered in order with the commands around them. */
  private enqueueReply(code: number, text: string) {
    this.queue.push(`\u0000${code} ${text}`);
  }

  private async pump() {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.queue.length && !this.closed && !this.ending) {
        const line = this.queue.shift()!;
        // Floods are slowed, not refused: a burst of commands, and far more so a burst of errors.
        const limits = this.ctx.limits;
        let now = monotonicNow();
        this.commandsFullAt = limits.commands.take(this.commandsFullAt, now);
        const wait = limits.commands.wait(this.commandsFullAt, now);
        if (wait) await sleep(wait);
        this.lastReplyCode = 0;
        if (line.startsWith('\u0000')) this.reply(Number(line.slice(1, 4)), line.slice(5));
        else {
          this.running = this.execute(line);
          await this.running;
          this.running = undefined;
        }
        if (this.lastReplyCode >= 500 && this.lastReplyCode !== 530) {
          now = monotonicNow();
          this.errorsFullAt = limits.errors.take(this.errorsFullAt, now);
          const penalty = limits.errors.wait(this.errorsFullAt, now);
          if (penalty) await sleep(penalty);
        }
        this.maybeResume();
      }
    } finally {
      this.busy = false;
    }
    if (this.peerEnded && !this.ending && this.queue.length === 0 && !this.held) this.end();
  }

  private async execute(line: string) {
    const { verb, arg } = parseCommandLine(line);
    const spec = COMMANDS.get(verb);
    if (!spec) {
      // Only the leading letters: `PASS<TAB>secret` is one unknown "verb" that holds a password,
      // and so may any mistyped command's argument.
      let shown = /^[A-Z0-9]{0,16}/.exec(verb)![0];
      // Nor a password glued to its verb (`PASSsecret`: one unknown verb, mostly the password).
      for (const secret of SECRET_ARGS) if (shown.startsWith(secret)) shown = secret;
      this.log.debug({ session: this.id, verb: shown }, 'unknown command');
      this.reply(500, `'${shown}': command not understood.`);
      return;
    }
    this.log.debug({ session: this.id, verb, arg: SECRET_ARGS.has(verb) ? '****' : arg }, 'command');
    if (!KEEPS_RENAME.has(spec.verb)) this.renameFrom = undefined;
    if (!spec.handler) {
      this.reply(502, `${spec.verb} not implemented.`);
      return;
    }
    if (spec.needsLogin !== false && !this.account) {
      this.reply(530, 'Please login with USER and PASS.');
      return;
    }
    if (spec.needsArg && arg.trim() === '') {
      this.reply(501, `${spec.verb} needs an argument.`);
      return;
    }
    if (spec.noArg && arg.trim() !== '') {
      this.reply(501, `${spec.verb} takes no argument.`);
      return;
    }
    try {
      await spec.handler(this, arg, verb);
    } catch (err) {
      this.replyError(err, spec.verb);
    }
  }

  replyError(err: unknown, verb: string) {
    if (err instanceof FtpReplyError) { this.reply(err.code, err.message); return; }
    if (err instanceof DataChannelError) { this.reply(err.code, err.message); return; }
    if (err instanceof StorageError) { this.reply(...storageReply(err)); return; }
    // Unexpected: log the detail, tell the client nothing about the server's internals.
    this.log.error({ session: this.id, verb, err: err instanceof Error ? err.stack : String(err) }, 'command failed');
    this.reply(451, 'Requested action aborted: local error in processing.');
  }

  // ---- paths and permissions ----

  /** Resolve a client path against the working directory, inside the virtual root. */
  resolve(arg: string): string {
    const p = resolveVirtual(this.cwd, arg);
    if (p === undefined) throw new FtpReplyError(553, 'File name not allowed.');
    return p;
  }

  /** Bytes per second this session's file transfers may move one way (the account's limit, else the server's); 0: any. */
  maxRate(direction: keyof TransferRates): number {
    return this.account?.maxRate?.[direction] ?? this.ctx.options.maxRate[direction] ?? 0;
  }

  /** The largest file this session's uploads may make (the account's limit, else the server's); 0: any. */
  maxUploadSize(): number {
    return this.account?.maxUploadSize ?? this.ctx.options.maxUploadSize;
  }

  /** Check a permission, for a path when the account has rules per folder (e.g. an upload-only folder). */
  require(perm: Permission, path?: string): void {
    const account = this.account;
    const perms = account && path !== undefined && account.permissionsFor ? account.permissionsFor(path) : account?.permissions;
    if (!perms?.[perm]) throw new FtpReplyError(550, 'Permission denied.');
  }

  allows(perm: Permission, path?: string): boolean {
    try { this.require(perm, path); return true; } catch { return false; }
  }

  get fs(): Storage {
    if (!this.storage) throw new FtpReplyError(530, 'Not logged in.');
    return this.storage;
  }

  // ---- login ----

  /**
   * A session that was logged in (REIN, USER, AUTH after login) must log in again in time; one that
   * was not keeps its deadline, so repeating REIN cannot hold an unauthenticated session open.
   */
  logout() {
    if (this.account) this.loginDue = this.loginDeadline();
    this.account = undefined;
    this.storage = undefined;
    this.pendingUser = undefined;
    this.cwd = '/';
    this.type = 'A';
    this.restOffset = 0;
    this.renameFrom = undefined;
    this.epsvAll = false;
    this.mlstFacts = DEFAULT_FACTS;
    this.hostName = undefined;
    this.clearData();
  }

  private loginDeadline(): number {
    const login = this.ctx.options.timeouts.login;
    return login > 0 ? monotonicNow() + login : 0;
  }

  loggedIn(account: Account, storage: Storage) {
    this.account = account;
    this.storage = storage;
    this.pendingUser = undefined;
    this.cwd = '/';
    this.loginDue = 0;
  }

  // ---- data connections ----

  /** PASV/EPSV: arm the session's passive listener, opening one with `open` when there is none. */
  async preparePassive(open: () => Promise<PassiveListener>): Promise<PassiveListener> {
    this.clearData();
    let listener = this.passive;
    if (!listener?.reusable) {
      listener?.dispose();
      this.passive = undefined;
      listener = await open();
      if (this.closed) { listener.dispose(); throw new FtpReplyError(421, 'Connection closed.'); }
      this.passive = listener;
    }
    listener.arm();
    this.data = { kind: 'passive', listener };
    return listener;
  }

  setActive(host: string, port: number) {
    this.clearData();
    this.data = { kind: 'active', host, port };
  }

  clearData() {
    if (this.data?.kind === 'passive') this.data.listener.release();
    this.data = undefined;
  }

  hasDataSetup(): boolean { return this.data !== undefined; }

  /** Refuse early, before any file is opened, when no PORT/PASV came first. */
  requireDataSetup() {
    if (!this.data) throw new FtpReplyError(425, 'Use PORT, PASV, EPRT or EPSV first.');
    if (this.ctx.options.requireTls.data && this.protection !== 'P' && !this.exemptFromTls()) {
      throw new FtpReplyError(521, 'Data connections must be protected: use PROT P.');
    }
  }

  exemptFromTls(): boolean {
    return !!this.account?.anonymous && this.ctx.options.requireTls.anonymousExempt;
  }

  private async openData(inbound = false): Promise<Duplex> {
    const setup = this.data;
    if (!setup) throw new FtpReplyError(425, 'Use PORT, PASV, EPRT or EPSV first.');
    const t = this.ctx.options.timeouts;
    // An upload's connection is steerable: a plain one reads into the transfer's own blocks, a
    // TLS one into a slab under the TLS socket (io/read-sink.ts).
    let raw: net.Socket;
    if (setup.kind === 'passive') {
      raw = await setup.listener.accept(t.dataConnect);
      if (inbound) {
        const steerable = steerableSocket(raw);
        if (steerable !== raw) { steerable.on('error', () => {}); raw = steerable; }
      }
    } else {
      raw = await connectActive(setup.host, setup.port, this.localAddress, t.dataConnect, inbound);
    }
    raw.setTimeout(t.dataStall, () => raw.destroy(new Error('data connection stalled')));
    if (this.protection !== 'P') return raw;
    const context = this.tlsContext;
    if (!context) throw new FtpReplyError(425, 'TLS not configured.');
    const under = (inbound && slabReader(raw)) || raw;
    const secured = await secureDataSocket(under, context, t.dataConnect, this.ctx.options.requireTlsSessionReuse);
    // It takes half-open from the Duplex; as over the TCP socket itself, it ends once the client has.
    if (under !== raw) secured.allowHalfOpen = false;
    secured.setTimeout(t.dataStall, () => secured.destroy(new Error('data connection stalled')));
    return secured;
  }

  /**
   * Run one transfer: 150, data connection, bytes, then 226 (or 425/426/451). Awaited by the
   * command loop, so later commands wait their turn, while ABOR/STAT/NOOP are answered at once.
   */
  async runTransfer(spec: TransferSpec): Promise<boolean> {
    const controller = new AbortController();
    let bytes = 0;
    let socket: Duplex | undefined;
    let succeeded = false;
    let finish!: () => void;
    const done = new Promise<void>((r) => (finish = r));
    this.transfer = {
      abort: () => { controller.abort(); socket?.destroy(); this.clearData(); },
      done,
      // While it runs, what the data connection has carried (one direction is all but zero).
      bytes: () => bytes || moved(socket),
      what: spec.what,
    };
    // An ABOR that came before the transfer started (pipelined in the same packet as its RETR)
    // was queued behind it: it would wait for the transfer's end, which a client that reads
    // nothing puts off until the stall timeout. It acts now, as one sent a moment later would.
    if (this.queue.length && this.socket.writableLength <= IMMEDIATE_REPLY_LIMIT) {
      const at = this.queue.findIndex((l) => !l.startsWith('\u0000') && parseCommandLine(l).verb === 'ABOR');
      if (at >= 0) void this.execute(this.queue.splice(at, 1)[0]!);
    }
    // A small download goes out in one write and its end at once, so 226 could follow 150 by
    // microseconds and reach the client in one read. aria2 then waits for a 226 that is already
    // in its buffer, until its timeout (60 s per file; when 150 and 226 were sent in one write,
    // every file of up to 64 KiB). 226 waits for the client to close its end, which it does once
    // it has read 150 and the data: the reply then comes in a read of its own.
    try {
      this.reply(150, spec.opening);
      socket = await this.openData(spec.inbound);
      if (controller.signal.aborted) throw new Error('aborted');
      bytes = await spec.run(socket, controller.signal);
      if (spec.small === true) {
        await clientClosed(socket, SMALL_CLOSE_WAIT_MS);
        if (controller.signal.aborted) throw new Error('aborted');
      }
      succeeded = true;
      this.reply(226, spec.complete ? spec.complete(bytes) : 'Transfer complete.');
      return true;
    } catch (err) {
      if (controller.signal.aborted) this.reply(426, 'Connection closed; transfer aborted.');
      else if (err instanceof DataChannelError || err instanceof FtpReplyError) this.reply(err.code, err.message);
      else if (err instanceof StorageError) this.reply(...storageReply(err, true));
      else this.reply(426, 'Connection closed; transfer aborted.');
      // The operator's record of what did not complete, and why (the reply the client got).
      this.log.info({ session: this.id, remote: this.remoteAddress, user: this.account?.username, what: spec.what,
        bytes: bytes || moved(socket), reply: this.lastReplyCode, err: (err as Error)?.message }, 'transfer failed');
      return false;
    } finally {
      if (socket && !socket.destroyed) {
        if (succeeded) closeGracefully(socket); else socket.destroy();
      }
      this.clearData();
      this.transfer = undefined;
      finish();
    }
  }

  // ---- TLS ----

  /** Switch the control connection to TLS after `234`; bytes pipelined behind AUTH are dropped. */
  upgradeToTls(context: tls.SecureContext) {
    this.queue = [];
    this.held = undefined;
    // A partial line (or Telnet state) sent in clear must not become the start of the first
    // protected command (the STARTTLS injection of CVE-2011-0411).
    this.splitter = new CommandLineSplitter(this.ctx.options.maxCommandLength);
    const raw = this.socket;
    raw.removeListener('data', Session.onData);
    raw.removeListener('close', Session.onClose);
    raw.removeListener('end', Session.onEnd);
    this.secure = true;
    this.wrapTls(raw, context);
  }

  /** Run the server side of TLS on the control connection (after AUTH TLS, or from the first byte). */
  private wrapTls(raw: net.Socket, context: tls.SecureContext) {
    this.tlsContext = context;
    const secure = serverTlsSocket(raw, context);
    // Half-open as the TCP socket under it (see peerEnd).
    secure.allowHalfOpen = raw.allowHalfOpen;
    this.socket = secure;
    let established = false;
    secure.on('secure', () => {
      established = true;
      this.log.debug({ session: this.id, protocol: secure.getProtocol() }, 'control connection secured');
    });
    // A failed handshake ends this connection only; the log line says why. Later errors are the
    // network's (a client that closes without close_notify, as Python's ftplib does after QUIT):
    // attach() logs them at debug, as on a plain connection.
    secure.on('error', (err) => {
      if (!established) this.log.info({ session: this.id, remote: this.remoteAddress, err: err.message }, 'TLS handshake failed on control connection');
      secure.destroy();
    });
    this.attach(secure);
  }

  // ---- teardown ----

  private cleanup() {
    if (this.closed) return;
    this.closed = true;
    this.transfer?.abort();
    this.clearData();
    this.passive?.dispose();
    this.queue = [];
    this.held = undefined;
    this.ctx.sessionClosed(this);
  }

  /** Server shutdown: wait for a running transfer (bounded by the caller), then say goodbye. */
  async shutdown(): Promise<void> {
    if (this.transfer) await this.transfer.done;
    this.reply(421, 'Server shutting down.');
    this.end();
  }

  destroy() { this.socket.destroy(); }
  /** Resolves once the running command, if any, has finished (a cut upload's file handled). */
  settled(): Promise<void> { return this.running ?? Promise.resolve(); }
  get isClosed() { return this.closed; }

  /** Files this session created by uploading (the latest UPLOADS_REMEMBERED): MFMT may set their times. */
  private uploads: Set<string> | undefined;
  noteUpload(p: string) {
    this.uploads ??= new Set();
    this.uploads.delete(p);
    this.uploads.add(p);
    if (this.uploads.size > UPLOADS_REMEMBERED) this.uploads.delete(this.uploads.values().next().value!);
  }
  uploadedHere(p: string): boolean { return this.uploads?.has(p) ?? false; }
}

/**
 * End a finished data connection without a reset: destroying a socket that still has unread bytes
 * (a TLS close_notify or ticket, say) makes the kernel send RST, and the client may lose the tail
 * of the data or fail its TLS shutdown. So: end, drain what arrives, and destroy only after a bound.
 */
function closeGracefully(socket: Duplex) {
  socket.on('error', () => {});
  // end() on an ended stream builds an error with a stack trace: costly once per file.
  if (!socket.writableEnded) socket.end();
  socket.resume();
  const timer = setTimeout(() => socket.destroy(), 5000);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

/** Until the client has closed its end of a data connection (or it is gone), at most `ms`. */
function clientClosed(socket: Duplex, ms: number): Promise<void> {
  if (socket.readableEnded || socket.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      socket.off('end', done);
      socket.off('close', done);
      socket.off('error', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    socket.once('end', done);
    socket.once('close', done);
    socket.once('error', done);
    socket.resume();
  });
}

function moved(socket: Duplex | undefined): number {
  const s = socket as net.Socket | undefined;
  return Math.max(s?.bytesRead ?? 0, s?.bytesWritten ?? 0);
}

export function storageReply(err: StorageError, transfer = false): [number, string] {
  switch (err.code) {
    case 'ENOENT': return [550, 'No such file or directory.'];
    case 'EEXIST': return [550, 'File exists.'];
    case 'ENOTDIR': return [550, 'Not a directory.'];
    case 'EISDIR': return [550, 'Is a directory.'];
    case 'ENOTEMPTY': return [550, 'Directory not empty.'];
    case 'ENOSPC': return [452, 'Insufficient storage space.'];
    case 'EINVAL': return [550, 'Invalid argument.'];
    default: return transfer ? [451, 'Requested action aborted: local error in processing.'] : [550, 'Permission denied.'];
  }
}
