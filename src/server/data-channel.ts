// Data connections: passive listeners from a port range, active connects, TLS on top, peer checks.
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { connectSteerable } from '../io/read-sink.js';
import { normalizeIp } from '../protocol/address.js';
import { serverTlsSocket } from './tls-socket.js';

export class DataChannelError extends Error {
  constructor(public readonly code: number, message: string) { super(message); }
}

/**
 * A session's passive listener. It is opened once and kept: each PASV/EPSV arms it for exactly
 * one data connection, so a session moving many files costs no socket, bind, listen and close
 * per file, and the kernel's search for a free ephemeral port (slow once thousands of closed
 * data connections sit in TIME_WAIT) runs once per session. Connections while disarmed, and from
 * any address but the control connection's (the "PASV theft" attack), are dropped unless allowed.
 * Unused for `idleMs` (for `lingerMs` between transfers), the port is given back; in a configured
 * range a lingering port is also handed to a new session when the range is full.
 */
export class PassiveListener {
  private socket: net.Socket | undefined;
  private waiter: { resolve: (s: net.Socket) => void; reject: (e: Error) => void } | undefined;
  private armed = false;
  private unclaimed = false;
  private closed = false;
  private idleTimer: NodeJS.Timeout | undefined;

  private constructor(private readonly server: net.Server, readonly port: number,
    private readonly expectedPeer: string | undefined, private readonly onRejected: (addr: string) => void,
    private readonly idleMs: number, private readonly lingerMs: number, private readonly inRange: boolean) {
    server.on('connection', (s) => this.onConnection(s));
    server.on('error', () => this.close());
    this.startTimer(idleMs);
  }

  /**
   * Listeners from a configured port range that sit between transfers, oldest first. When the
   * range is full, a new session takes the port of the oldest of these, so keeping listeners
   * never leaves a range with fewer usable ports than opening one per transfer did.
   */
  private static readonly lingering = new Set<PassiveListener>();

  private static reclaimIn(range: [number, number]): number | undefined {
    for (const l of PassiveListener.lingering) {
      if (l.port >= range[0] && l.port <= range[1]) { l.close(); return l.port; }
    }
    return undefined;
  }

  static async open(opts: { host: string; range?: [number, number]; expectedPeer?: string;
    onRejected?: (addr: string) => void; idleMs?: number; lingerMs?: number }): Promise<PassiveListener> {
    const tryListen = (port: number) => new Promise<net.Server>((resolve, reject) => {
      const server = net.createServer({ pauseOnConnect: true, noDelay: true });
      server.once('error', reject);
      server.listen({ host: opts.host, port, backlog: 8, exclusive: true }, () => {
        server.removeListener('error', reject);
        resolve(server);
      });
    });
    let server: net.Server | undefined;
    if (!opts.range) {
      server = await tryListen(0);
    } else {
      const [min, max] = opts.range;
      const span = max - min + 1;
      // Random start spreads sessions over the range; a bounded walk finds a free port.
      const start = Math.floor(Math.random() * span);
      for (let i = 0; i < Math.min(span, 200) && !server; i++) {
        server = await tryListen(min + ((start + i) % span)).catch(() => undefined);
      }
      for (let tries = 0; !server && tries < 8; tries++) {
        const port = PassiveListener.reclaimIn(opts.range);
        if (port === undefined) break;
        server = await tryListen(port).catch(() => undefined);
      }
      if (!server) throw new DataChannelError(425, 'No passive port available');
    }
    const port = (server.address() as net.AddressInfo).port;
    const idleMs = opts.idleMs ?? 60_000;
    return new PassiveListener(server, port, opts.expectedPeer && normalizeIp(opts.expectedPeer),
      opts.onRejected ?? (() => {}), idleMs, opts.lingerMs ?? idleMs, opts.range !== undefined);
  }

  private startTimer(ms: number) {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.close(), ms);
    this.idleTimer.unref();
  }

  /** Expect one data connection (a new PASV/EPSV); a connection left from an earlier one is dropped. */
  arm(): void {
    this.release();
    PassiveListener.lingering.delete(this);
    this.armed = true;
    this.unclaimed = true;
    this.startTimer(this.idleMs);
  }

  /**
   * Whether the next PASV may arm this listener again. Not when the last one never saw its
   * connection: that connection may still be on its way, and would be taken for the next transfer.
   */
  get reusable(): boolean { return !this.closed && !this.unclaimed; }

  private onConnection(s: net.Socket) {
    if (!this.armed || this.closed) { s.destroy(); return; }
    const peer = normalizeIp(s.remoteAddress ?? '');
    if (this.expectedPeer && peer !== this.expectedPeer) {
      this.onRejected(peer);
      s.destroy();
      return;
    }
    this.armed = false;
    this.unclaimed = false;
    // Until a transfer pipes it, a reset must not become an unhandled 'error'; the transfer's
    // pipeline sees errors through its own listeners.
    s.on('error', () => {});
    if (this.waiter) { this.waiter.resolve(s); this.waiter = undefined; } else this.socket = s;
  }

  /** The data connection, once the client has opened it; rejects after `timeoutMs`. */
  accept(timeoutMs: number): Promise<net.Socket> {
    const ready = this.socket;
    // The caller owns the connection from here on and closes it.
    if (ready) { this.socket = undefined; return Promise.resolve(ready); }
    if (this.closed || !this.armed) return Promise.reject(new DataChannelError(425, 'Passive connection closed'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new DataChannelError(425, 'Data connection was not opened in time'));
      }, timeoutMs);
      this.waiter = {
        resolve: (s) => { clearTimeout(timer); resolve(s); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      };
    });
  }

  /**
   * The transfer is over, or the setup was superseded: disarm, drop a connection that was
   * accepted but never used (the transfer closes its own), and keep listening for the next.
   */
  release(): void {
    this.armed = false;
    if (this.waiter) { this.waiter.reject(new DataChannelError(425, 'Passive connection closed')); this.waiter = undefined; }
    this.socket?.destroy();
    this.socket = undefined;
    if (this.closed) return;
    // Between transfers: kept for the next PASV for `lingerMs`, and open to reclaiming.
    this.startTimer(this.lingerMs);
    if (this.inRange) PassiveListener.lingering.add(this);
  }

  /** Stop listening for good (session over, or the port given back). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.armed = false;
    PassiveListener.lingering.delete(this);
    clearTimeout(this.idleTimer);
    this.server.close();
    if (this.waiter) { this.waiter.reject(new DataChannelError(425, 'Passive connection closed')); this.waiter = undefined; }
  }

  /** Close the listener and drop a connection that was accepted but never used. */
  dispose(): void {
    this.close();
    this.release(); // closed first, so it only drops the connection: no linger timer, no reclaim list
  }
}

/** Active mode: connect to the address the client gave, from the control connection's local address. */
export function connectActive(host: string, port: number, localAddress: string | undefined, timeoutMs: number,
  steerable = false): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    // A plain upload's connection reads into the transfer's blocks and stays half-open for the
    // end-or-reset check (io/file-pump.ts), as a steered passive connection does.
    const options = { host, port, localAddress, noDelay: true };
    const s = steerable ? connectSteerable({ ...options, allowHalfOpen: true }) : net.connect(options);
    const timer = setTimeout(() => { s.destroy(); reject(new DataChannelError(425, "Can't open data connection")); }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      s.removeAllListeners('error');
      s.on('error', () => {});
      resolve(s);
    });
    s.once('error', () => { clearTimeout(timer); s.destroy(); reject(new DataChannelError(425, "Can't open data connection")); });
  });
}

/** Run the server side of a TLS handshake on a data connection (PROT P). */
export function secureDataSocket(raw: Duplex, context: tls.SecureContext, timeoutMs: number,
  requireReuse: boolean): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const t = serverTlsSocket(raw, context);
    const timer = setTimeout(() => fail('TLS handshake on data connection timed out'), timeoutMs);
    let settled = false;
    function fail(msg: string) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      t.destroy();
      raw.destroy();
      reject(new DataChannelError(425, msg));
    }
    // A connection that ends or closes before the handshake is done will not finish it. Over a
    // Duplex (io/read-sink.ts slabReader) a reset reaches the TLS socket only as a close: Node
    // reports errors of a wrapped stream through 'error' only once the socket is handed over.
    const gone = () => fail('TLS handshake on data connection failed');
    t.once('end', gone);
    t.once('close', gone);
    t.once('secure', () => {
      clearTimeout(timer);
      t.off('end', gone);
      t.off('close', gone);
      if (settled) return;
      t.removeAllListeners('error');
      // Transfers see failures through their streams; a reset after the transfer must not go unhandled.
      t.on('error', () => {});
      if (requireReuse && !t.isSessionReused()) {
        fail('TLS session reuse required on data connection');
        return;
      }
      // One turn later: Node writes the TLS 1.3 session tickets once the handshake callback
      // returns; data and close_notify written before them make clients (Python's ssl) fail
      // their shutdown with "shutdown while in init".
      setImmediate(() => resolve(t));
    });
    t.once('error', () => fail('TLS handshake on data connection failed'));
    raw.resume();
  });
}
