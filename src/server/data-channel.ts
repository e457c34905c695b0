// Data connections: passive listeners from a port range, active connects, TLS on top, peer checks.
import net from 'node:net';
import tls from 'node:tls';
import { normalizeIp } from '../protocol/address.js';

export class DataChannelError extends Error {
  constructor(public readonly code: number, message: string) { super(message); }
}

/**
 * One passive listener, waiting for exactly one data connection. Connections from any address but
 * the control connection's are dropped unless allowed: that stops another host from stealing a
 * transfer by racing to the advertised port (the "PASV theft" attack).
 */
export class PassiveListener {
  private socket: net.Socket | undefined;
  private waiter: { resolve: (s: net.Socket) => void; reject: (e: Error) => void } | undefined;
  private closed = false;
  private readonly idleTimer: NodeJS.Timeout;

  private constructor(private readonly server: net.Server, readonly port: number,
    private readonly expectedPeer: string | undefined, private readonly onRejected: (addr: string) => void,
    idleMs: number) {
    server.on('connection', (s) => this.onConnection(s));
    server.on('error', () => this.close());
    // A port nobody connects to is given back, so PASV without a transfer cannot hoard ports.
    this.idleTimer = setTimeout(() => { if (!this.socket) this.close(); }, idleMs);
    this.idleTimer.unref();
  }

  static async open(opts: { host: string; range?: [number, number]; expectedPeer?: string;
    onRejected?: (addr: string) => void; idleMs?: number }): Promise<PassiveListener> {
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
      if (!server) throw new DataChannelError(425, 'No passive port available');
    }
    const port = (server.address() as net.AddressInfo).port;
    return new PassiveListener(server, port, opts.expectedPeer && normalizeIp(opts.expectedPeer), opts.onRejected ?? (() => {}), opts.idleMs ?? 60_000);
  }

  private onConnection(s: net.Socket) {
    const peer = normalizeIp(s.remoteAddress ?? '');
    if (this.socket || this.closed || (this.expectedPeer && peer !== this.expectedPeer)) {
      if (!this.socket && !this.closed) this.onRejected(peer);
      s.destroy();
      return;
    }
    this.socket = s;
    // Until a transfer pipes it, a reset must not become an unhandled 'error'; the transfer's
    // pipeline sees errors through its own listeners.
    s.on('error', () => {});
    clearTimeout(this.idleTimer);
    this.server.close(); // one connection per PASV: stop listening at once
    if (this.waiter) { this.waiter.resolve(s); this.waiter = undefined; }
  }

  /** The data connection, once the client has opened it; rejects after `timeoutMs`. */
  accept(timeoutMs: number): Promise<net.Socket> {
    if (this.socket) return Promise.resolve(this.socket);
    if (this.closed) return Promise.reject(new DataChannelError(425, 'Passive connection closed'));
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

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.idleTimer);
    this.server.close();
    if (this.waiter) { this.waiter.reject(new DataChannelError(425, 'Passive connection closed')); this.waiter = undefined; }
  }

  /** Close the listener and drop a connection that was accepted but never used. */
  dispose(): void {
    this.close();
    if (this.socket && !this.socket.destroyed) this.socket.destroy();
  }
}

/** Active mode: connect to the address the client gave, from the control connection's local address. */
export function connectActive(host: string, port: number, localAddress: string | undefined, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port, localAddress, noDelay: true });
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
export function secureDataSocket(raw: net.Socket, context: tls.SecureContext, timeoutMs: number,
  requireReuse: boolean): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const t = new tls.TLSSocket(raw, { isServer: true, secureContext: context });
    const timer = setTimeout(() => fail('TLS handshake on data connection timed out'), timeoutMs);
    function fail(msg: string) {
      clearTimeout(timer);
      t.destroy();
      raw.destroy();
      reject(new DataChannelError(425, msg));
    }
    t.once('secure', () => {
      clearTimeout(timer);
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
