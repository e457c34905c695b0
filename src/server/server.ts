// FtpServer: options, the plain and implicit-TLS listeners, the session registry and lifecycle.
import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import crypto from 'node:crypto';
import dns from 'node:dns/promises';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { jsonLogger, silentLogger, type Logger } from '../logger.js';
import { Session } from './session.js';
import type { ResolvedOptions, ServerContext } from './context.js';
import type { FtpServerEvents, SessionInfo } from './events.js';
import { StaticAuthenticator, type Account, type Authenticator, type StaticUser, type AnonymousOptions } from './auth/authenticator.js';
import { checkUmask, LocalStorage } from './storage/local.js';
import type { Storage } from './storage/storage.js';
import { normalizeIp } from '../protocol/address.js';
import { LoginBan } from './policy/login-ban.js';
import { AddressFilter } from './policy/address-filter.js';
import { TimeoutSweep, sweepTick } from './policy/timeout-sweep.js';
import { RateLimit } from './policy/rate-limit.js';
import { LogGate } from './policy/log-gate.js';
import { checkedRates, parseSize, type TransferRates } from '../transfer-limits.js';

/**
 * AEAD suites only, AES-128-GCM first as in Mozilla's "intermediate" profile: as strong as this
 * protocol needs and measurably cheaper per byte than AES-256-GCM for bulk data.
 */
export const PREFERRED_CIPHERS = [
  'TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export interface TlsOptions {
  /** PEM certificate (chain allowed) and key, as text or Buffer. */
  cert: string | Buffer;
  key: string | Buffer;
  ca?: string | Buffer;
  /** Defaults to TLSv1.2. */
  minVersion?: tls.SecureVersion;
  ciphers?: string;
}

export interface FtpServerOptions {
  /** Address to listen on; default 127.0.0.1. Use '::' or '0.0.0.0' to serve other hosts. */
  host?: string;
  /** Control port; default 2121. 0 picks a free one. */
  port?: number;
  /** Default folder that becomes "/" for users without a root of their own; default the current folder. */
  root?: string;
  /**
   * Permission bits that files and folders created by uploads and MKD leave out (LocalStorage's
   * `umask`); default 0o022. The process umask applies as well.
   */
  umask?: number;
  /** Storage per account; default a LocalStorage on the account's root. */
  storage?: (account: Account) => Storage;
  /** Users for the built-in authenticator. */
  users?: StaticUser[];
  /** Enable the anonymous login (read-only unless permissions say otherwise). */
  anonymous?: boolean | AnonymousOptions;
  /** Replace the built-in account source entirely. */
  authenticator?: Authenticator;
  /** Passive port range, inclusive, e.g. [50000, 50100] or "50000-50100". */
  pasvRange?: [number, number] | string;
  /** Public IPv4 address or host name to advertise in 227 replies (servers behind NAT). */
  pasvAddress?: string;
  greeting?: string;
  tls?: TlsOptions;
  /** Port for implicit FTPS (TLS from the first byte); requires `tls`. */
  implicitTlsPort?: number;
  /** Refuse login and clear data connections without TLS. */
  requireTls?: boolean | { control?: boolean; data?: boolean; anonymousExempt?: boolean };
  /** Data connections must resume the control connection's TLS session (vsftpd's require_ssl_reuse). */
  requireTlsSessionReuse?: boolean;
  timeouts?: Partial<ResolvedOptions['timeouts']>;
  maxCommandLength?: number;
  /** Allow PORT/EPRT to other hosts and passive connections from them (FXP); off by default. */
  allowForeignDataAddress?: boolean;
  allowLowDataPorts?: boolean;
  failedLoginDelayMs?: number;
  /** Failed logins on one connection before it is closed; default 5. */
  maxLoginAttempts?: number;
  /** Ban an address after this many failed logins within `banWindowMs` (default 10 in 10 min; 0: never). */
  banAfterFailures?: number;
  banWindowMs?: number;
  /** How long a ban lasts; default 15 minutes. */
  banDurationMs?: number;
  /** Sessions at once; default 2000. */
  maxSessions?: number;
  /**
   * Sessions from one address; default 50. When an address reaches it, its oldest session that has
   * not logged in yet makes room (so a flood of idle connections cannot lock out a real client
   * from the same address); if all are logged in, the new connection is refused.
   */
  maxSessionsPerAddress?: number;
  /** Commands per second per session before the session is slowed; default 10000 (0: no limit). */
  commandRate?: number;
  /** Error replies (5xx) per second per session before it is slowed; default 20 (0: no limit). */
  errorRate?: number;
  /** Uploads go to a temporary name and are renamed into place only when complete. */
  atomicUploads?: boolean;
  /** What an interrupted upload leaves: the partial file (so REST can resume it) or nothing. */
  partialUploads?: 'keep' | 'delete';
  /**
   * Bandwidth per session for file transfers, bytes per second (0: none; default none). An
   * account's own `maxRate` wins, direction by direction.
   */
  maxRate?: TransferRates;
  /**
   * The largest file an upload may make, in bytes (0: no limit; default none): past it the upload
   * gets `552` and its file is removed (an append keeps what it had). An account's own wins.
   */
  maxUploadSize?: number;
  /** After listen(), switch to this user (and group) when started as root, e.g. to bind port 21. */
  runAs?: { user: string | number; group?: string | number };
  /**
   * Only these client addresses and CIDR ranges (`10.0.0.0/8`, `2001:db8::/32`) may connect;
   * default: any. Others get `421` and are closed before any command is read.
   */
  allowFrom?: string[];
  /** These addresses and ranges may not connect, even when `allowFrom` includes them. */
  denyFrom?: string[];
  /** How long close() lets running transfers finish before cutting them. */
  shutdownGraceMs?: number;
  logger?: Logger | 'stderr';
}

/** The options updateLimits can change while the server runs. */
const RELOADABLE = ['allowFrom', 'denyFrom', 'maxSessions', 'maxSessionsPerAddress', 'maxRate', 'maxUploadSize'] as const;
export type ReloadableOptions = Pick<FtpServerOptions, typeof RELOADABLE[number]>;

export interface ListeningAddresses {
  host: string;
  port: number;
  implicitTlsPort?: number;
}

export function parsePortRange(value: [number, number] | string | undefined): [number, number] | undefined {
  if (value === undefined) return undefined;
  const [min, max] = typeof value === 'string' ? value.split('-').map((v) => Number(v.trim())) : value;
  if (!Number.isInteger(min) || !Number.isInteger(max) || min! < 1024 || max! > 65535 || min! > max!) {
    throw new Error(`invalid passive port range: ${String(value)} (want MIN-MAX within 1024-65535)`);
  }
  return [min!, max!];
}

function resolveOptions(o: FtpServerOptions, pasvAddress: () => string | undefined): ResolvedOptions {
  if (o.umask !== undefined) checkUmask(o.umask);
  const req = o.requireTls;
  const requireTls = typeof req === 'object'
    ? { control: req.control ?? true, data: req.data ?? true, anonymousExempt: req.anonymousExempt ?? false }
    : { control: !!req, data: !!req, anonymousExempt: false };
  return {
    greeting: o.greeting ?? 'wharf FTP server ready.',
    pasvRange: parsePortRange(o.pasvRange),
    pasvAddress,
    maxCommandLength: o.maxCommandLength ?? 4096,
    timeouts: { login: 60_000, idle: 300_000, dataConnect: 30_000, dataStall: 300_000, ...o.timeouts },
    requireTls,
    requireTlsSessionReuse: o.requireTlsSessionReuse ?? false,
    allowForeignDataAddress: o.allowForeignDataAddress ?? false,
    allowLowDataPorts: o.allowLowDataPorts ?? false,
    failedLoginDelayMs: o.failedLoginDelayMs ?? 1000,
    maxLoginAttempts: o.maxLoginAttempts ?? 5,
    commandRate: o.commandRate ?? 10_000,
    errorRate: o.errorRate ?? 20,
    atomicUploads: o.atomicUploads ?? false,
    partialUploads: o.partialUploads ?? 'keep',
    maxRate: checkedRates(o.maxRate, 'maxRate'),
    maxUploadSize: o.maxUploadSize === undefined ? 0 : parseSize(o.maxUploadSize, 'maxUploadSize'),
  };
}

export interface FtpServer {
  on<E extends keyof FtpServerEvents>(event: E, listener: (payload: FtpServerEvents[E]) => void): this;
  once<E extends keyof FtpServerEvents>(event: E, listener: (payload: FtpServerEvents[E]) => void): this;
  off<E extends keyof FtpServerEvents>(event: E, listener: (payload: FtpServerEvents[E]) => void): this;
  emit<E extends keyof FtpServerEvents>(event: E, payload: FtpServerEvents[E]): boolean;
}

export class FtpServer extends EventEmitter {
  readonly options: FtpServerOptions;
  private readonly resolved: ResolvedOptions;
  private readonly logger: Logger;
  private readonly authenticator: Authenticator;
  private readonly sessions = new Set<Session>();
  private readonly byAddress = new Map<string, Set<Session>>();
  /** LocalStorage holds no per-session state, so one per root serves every login to it. */
  private readonly localStorages = new Map<string, LocalStorage>();
  private readonly ban: LoginBan;
  private addresses: AddressFilter;
  private readonly sweep: TimeoutSweep;
  private secureContext: tls.SecureContext | undefined;
  private plainServer: net.Server | undefined;
  private tlsServer: net.Server | undefined;
  private advertised: string | undefined;
  private closing = false;
  private readonly ctx: ServerContext;

  constructor(options: FtpServerOptions = {}) {
    super();
    this.options = options;
    this.logger = options.logger === 'stderr' ? jsonLogger(process.stderr) : options.logger ?? silentLogger;
    this.resolved = resolveOptions(options, () => this.advertised);
    const anonymous = options.anonymous === true ? {} : options.anonymous || undefined;
    this.authenticator = options.authenticator ?? new StaticAuthenticator(options.users ?? [], anonymous);
    if (options.tls) this.secureContext = this.buildContext(options.tls);
    this.ctx = this.context();
    this.addresses = new AddressFilter(options.allowFrom, options.denyFrom);
    this.ban = new LoginBan({
      maxFailures: options.banAfterFailures ?? 10,
      windowMs: options.banWindowMs ?? 10 * 60_000,
      banMs: options.banDurationMs ?? 15 * 60_000,
    });
    const t = this.resolved.timeouts;
    this.sweep = new TimeoutSweep(this.sessions, sweepTick([t.login, t.idle]));
    if (options.implicitTlsPort !== undefined && !options.tls) throw new Error('implicitTlsPort needs tls options');
    if (this.resolved.requireTls.control && !options.tls) throw new Error('requireTls needs tls options');
  }

  private buildContext(t: TlsOptions): tls.SecureContext {
    return tls.createSecureContext({
      cert: t.cert, key: t.key, ca: t.ca,
      minVersion: t.minVersion ?? 'TLSv1.2',
      ciphers: t.ciphers ?? PREFERRED_CIPHERS,
      honorCipherOrder: true,
      // No TLS 1.2 renegotiation: each one costs the server a full handshake, and Node's own limit
      // (3 per 10 minutes) only holds for sockets a tls.Server accepted, not for the ones the
      // sessions wrap themselves; a client could renegotiate without end on one connection.
      secureOptions: crypto.constants.SSL_OP_NO_RENEGOTIATION,
    });
  }

  /**
   * Change limits on a running server (`wharf serve` does on SIGHUP): new connections meet the new
   * address lists and session caps, transfers started from now on the new rates and size limit;
   * sessions already open stay. Keys given replace the running values (undefined: the default),
   * others stay. Everything is checked before anything changes: a bad value throws and leaves the
   * server as it was.
   */
  updateLimits(changes: ReloadableOptions): void {
    const next: ReloadableOptions = {};
    for (const key of RELOADABLE) (next as Record<string, unknown>)[key] = key in changes ? changes[key] : this.options[key];
    const addresses = new AddressFilter(next.allowFrom, next.denyFrom);
    const maxRate = checkedRates(next.maxRate, 'maxRate');
    const maxUploadSize = next.maxUploadSize === undefined ? 0 : parseSize(next.maxUploadSize, 'maxUploadSize');
    for (const key of ['maxSessions', 'maxSessionsPerAddress'] as const) {
      const v = next[key];
      if (v !== undefined && !(Number.isInteger(v) && v >= (key === 'maxSessions' ? 1 : 0))) throw new Error(`${key} must be a whole number`);
    }
    Object.assign(this.options, next);
    this.addresses = addresses;
    this.resolved.maxRate = maxRate;
    this.resolved.maxUploadSize = maxUploadSize;
  }

  /** Swap in a renewed certificate: new sessions and data connections use it, running ones keep theirs. */
  reloadTls(t: TlsOptions): void {
    this.secureContext = this.buildContext(t);
    this.options.tls = t;
    this.logger.info({}, 'TLS certificate reloaded');
  }

  private context(): ServerContext {
    return {
      options: this.resolved,
      logger: this.logger,
      limits: { commands: new RateLimit(this.resolved.commandRate), errors: new RateLimit(this.resolved.errorRate) },
      authenticator: this.authenticator,
      tlsContext: () => this.secureContext,
      // Session tickets are sealed with the context's own random keys: with a context per session,
      // a data connection can resume only a session of this control connection, never one that
      // another client (logged in or not) obtained on a control connection of its own.
      sessionTlsContext: () => (this.resolved.requireTlsSessionReuse && this.options.tls
        ? this.buildContext(this.options.tls) : this.secureContext),
      storageFor: (account) => account.storage ?? this.options.storage?.(account) ??
        this.localStorage(path.resolve(account.root ?? this.options.root ?? process.cwd())),
      emit: (event, payload) => {
        // An application's listener that throws must not break the session that triggered it.
        try { if (event !== 'error' || this.listenerCount('error') > 0) this.emit(event, payload); } catch (err) {
          this.logger.error({ event, err: (err as Error)?.message }, 'event listener threw');
        }
      },
      sessionClosed: (s) => {
        this.sessions.delete(s);
        const peers = this.byAddress.get(s.remoteAddress);
        peers?.delete(s);
        if (peers?.size === 0) this.byAddress.delete(s.remoteAddress);
        this.ctx.emit('disconnect', s.info());
      },
      loginFailed: (ip) => {
        if (this.ban.recordFailure(ip)) this.logger.warn({ remote: ip }, 'address banned after repeated failed logins');
        return this.ban.isBanned(ip);
      },
      isBanned: (ip) => this.ban.isBanned(ip),
    };
  }

  private localStorage(root: string): LocalStorage {
    let s = this.localStorages.get(root);
    if (!s) {
      s = new LocalStorage(root, { umask: this.options.umask });
      this.localStorages.set(root, s);
    }
    return s;
  }

  /** Refuse cheaply: one short line and a close, no session, no TLS, no per-connection state. */
  private refuse(socket: net.Socket, text: string) {
    socket.on('error', () => {});
    socket.end(`421 ${text}\r\n`);
    socket.setTimeout(2000, () => socket.destroy());
  }

  /** A session limit refusing connections is said at most every 10 s, so a flood costs no log volume. */
  private readonly limitLog = new LogGate();
  private limitReached(ip: string, limit: string, value: number) {
    if (!this.limitLog.pass()) return;
    this.logger.warn({ remote: ip, limit, value }, 'session limit reached: connections refused');
  }

  private accept(socket: net.Socket, implicit: boolean) {
    if (this.closing) { socket.destroy(); return; }
    const ip = normalizeIp(socket.remoteAddress ?? '');
    if (!this.addresses.allows(ip)) {
      this.logger.debug({ remote: ip }, 'connection refused: address not allowed');
      if (implicit) socket.destroy(); else this.refuse(socket, 'Not allowed from your address.');
      return;
    }
    if (this.ban.isBanned(ip)) {
      // Plain text even on the implicit-TLS port: the client gets nothing to handshake with.
      if (implicit) socket.destroy(); else this.refuse(socket, 'Too many failed logins from your address; try later.');
      return;
    }
    const peers = this.byAddress.get(ip);
    const perAddress = this.options.maxSessionsPerAddress ?? 50;
    if (perAddress > 0 && peers && peers.size >= perAddress) {
      const idle = [...peers].find((s) => !s.account);
      if (!idle) {
        this.limitReached(ip, 'max-sessions-per-address', perAddress);
        if (implicit) socket.destroy(); else this.refuse(socket, 'Too many connections from your address.');
        return;
      }
      // Out of the count at once: its socket may take a moment to close.
      peers.delete(idle);
      this.sessions.delete(idle);
      idle.evict('Too many connections from your address.');
    }
    const maxSessions = this.options.maxSessions ?? 2000;
    if (this.sessions.size >= maxSessions) {
      this.limitReached(ip, 'max-sessions', maxSessions);
      if (implicit) socket.destroy(); else this.refuse(socket, 'Too many users, try again later.');
      return;
    }
    const session = new Session(this.ctx, socket, implicit);
    this.sessions.add(session);
    if (peers) peers.add(session); else this.byAddress.set(ip, new Set([session]));
    this.ctx.emit('connect', session.info());
    session.greet();
  }

  async listen(): Promise<ListeningAddresses> {
    const host = this.options.host ?? '127.0.0.1';
    if (this.options.pasvAddress) await this.resolvePasvAddress(this.options.pasvAddress);
    // Half-open control connections: a client's FIN ends the session only once what it sent before has run (Session.peerEnd).
    this.plainServer = net.createServer({ noDelay: true, allowHalfOpen: true }, (s) => this.accept(s, false));
    let implicitTlsPort: number | undefined;
    try {
      await listenOn(this.plainServer, host, this.options.port ?? 2121);
      if (this.options.implicitTlsPort !== undefined) {
        // A plain listener whose sockets the session wraps in TLS itself: the same SecureContext (and
        // so the same session-ticket keys) then serves control and data connections, which is what
        // lets data connections resume the control connection's TLS session.
        this.tlsServer = net.createServer({ noDelay: true, allowHalfOpen: true }, (s) => this.accept(s, true));
        await listenOn(this.tlsServer, host, this.options.implicitTlsPort);
        implicitTlsPort = (this.tlsServer.address() as net.AddressInfo).port;
      }
      this.dropPrivileges();
    } catch (err) {
      // Nothing stays bound when listen() fails: not the control port beside a failed implicit
      // port, and above all not a port served as root when the privilege drop failed.
      this.plainServer.close();
      this.tlsServer?.close();
      // Nor a session accepted while the rest was being set up.
      for (const s of this.sessions) s.destroy();
      throw err;
    }
    const port = (this.plainServer.address() as net.AddressInfo).port;
    this.sweep.start();
    this.logger.info({ host, port, implicitTlsPort }, 'listening');
    return { host, port, implicitTlsPort };
  }

  /**
   * Ports are bound; give up root before serving anyone. Order matters: the supplementary groups
   * (reduced to the one group) and the group while still root, the user last. Without a group,
   * the user's primary group is used, so no group of root's survives the drop.
   */
  private dropPrivileges() {
    const runAs = this.options.runAs;
    if (!runAs || typeof process.getuid !== 'function' || process.getuid() !== 0) return;
    const group = runAs.group ?? primaryGroupOf(runAs.user);
    process.setgroups!([group]);
    process.setgid!(group);
    process.setuid!(runAs.user);
    this.logger.info({ uid: process.getuid(), gid: process.getgid!(), groups: process.getgroups!() }, 'dropped root privileges');
  }

  /** A host name (dynamic DNS) is looked up at start; an IP is used as given. */
  private async resolvePasvAddress(value: string) {
    if (net.isIPv4(value)) { this.advertised = value; return; }
    if (net.isIP(value)) throw new Error('pasvAddress must be an IPv4 address or a host name');
    const { address } = await dns.lookup(value, { family: 4 });
    this.advertised = address;
  }

  address(): ListeningAddresses | undefined {
    const a = this.plainServer?.address() as net.AddressInfo | null | undefined;
    if (!a) return undefined;
    const t = this.tlsServer?.address() as net.AddressInfo | null | undefined;
    return { host: a.address, port: a.port, implicitTlsPort: t?.port };
  }

  /** Sessions now open, for status pages and admin tools. */
  get connections(): SessionInfo[] {
    return [...this.sessions].map((s) => s.info());
  }

  /** Stop accepting, let running transfers end (bounded by shutdownGraceMs), then close every session. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.sweep.stop();
    const stopped = Promise.all([this.plainServer, this.tlsServer].filter(Boolean).map((srv) =>
      new Promise<void>((resolve) => srv!.close(() => resolve()))));
    const grace = this.options.shutdownGraceMs ?? 10_000;
    const all = Promise.all([...this.sessions].map((s) => s.shutdown()));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise<void>((r) => { timer = setTimeout(r, grace); })]);
    clearTimeout(timer);
    const cut = [...this.sessions];
    for (const s of cut) s.destroy();
    // A transfer cut here cleans up after itself (an atomic upload's temporary file, a partial one
    // with partialUploads 'delete'): let it, briefly, or a process that exits now leaves them.
    await Promise.race([Promise.all(cut.map((s) => s.settled())), new Promise<void>((r) => { timer = setTimeout(r, 2000); })]);
    clearTimeout(timer);
    await stopped;
  }
}

function primaryGroupOf(user: string | number): number {
  const r = spawnSync('id', ['-g', String(user)], { encoding: 'utf8', timeout: 5000 });
  const gid = Number(r.stdout?.trim());
  if (r.status !== 0 || !Number.isInteger(gid)) throw new Error(`runAs: unknown user ${String(user)}`);
  return gid;
}

function listenOn(server: net.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => { server.removeListener('error', reject); resolve(); });
  });
}
