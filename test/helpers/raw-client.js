// A bare control-connection driver for conformance tests: send exact lines, read exact replies.
import net from 'node:net';
import tls from 'node:tls';
import { ReplyParser } from '../../dist/protocol/reply.js';
import { parsePasvReply, parseEpsvReply } from '../../dist/protocol/address.js';

const TIMEOUT = 10_000;

export class RawClient {
  constructor(socket) {
    this.parser = new ReplyParser();
    this.replies = [];
    this.waiters = [];
    this.closed = false;
    this.attach(socket);
  }

  attach(socket) {
    this.socket = socket;
    socket.setTimeout(30_000, () => socket.destroy());
    socket.on('data', (d) => {
      for (const r of this.parser.push(d.toString('utf8'))) this.deliver(r);
    });
    socket.on('close', () => { this.closed = true; for (const w of this.waiters.splice(0)) w.reject(new Error('connection closed')); });
    socket.on('error', () => {});
  }

  deliver(r) {
    const w = this.waiters.shift();
    if (w) w.resolve(r); else this.replies.push(r);
  }

  static connect(port, host = '127.0.0.1', { implicitTls = false, localAddress } = {}) {
    return new Promise((resolve, reject) => {
      const s = implicitTls
        ? tls.connect({ port, host, localAddress, rejectUnauthorized: false })
        : net.connect({ port, host, localAddress });
      const timer = setTimeout(() => { s.destroy(); reject(new Error('connect timeout')); }, TIMEOUT);
      s.once(implicitTls ? 'secureConnect' : 'connect', async () => {
        clearTimeout(timer);
        const c = new RawClient(s);
        c.greeting = await c.read();
        resolve(c);
      });
      s.once('error', (e) => { clearTimeout(timer); reject(e); });
    });
  }

  /** The next reply, with its code and joined text. */
  read(timeout = TIMEOUT) {
    if (this.replies.length) { const r = this.replies.shift(); return Promise.resolve({ ...r, text: r.lines.join('\n') }); }
    if (this.closed) return Promise.reject(new Error('connection closed'));
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (r) => { clearTimeout(timer); resolve({ ...r, text: r.lines.join('\n') }); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      };
      // A waiter that timed out must not stay in line and swallow the next reply.
      const timer = setTimeout(() => { this.waiters.splice(this.waiters.indexOf(waiter), 1); reject(new Error('reply timeout')); }, timeout);
      this.waiters.push(waiter);
    });
  }

  writeRaw(data) { this.socket.write(data); }

  async cmd(line) {
    this.socket.write(line + '\r\n');
    return this.read();
  }

  async login(user, pass) {
    const u = await this.cmd(`USER ${user}`);
    if (u.code !== 331) throw new Error(`USER: ${u.code} ${u.lines}`);
    const p = await this.cmd(`PASS ${pass}`);
    if (p.code !== 230) throw new Error(`PASS: ${p.code} ${p.lines}`);
    return p;
  }

  /** Upgrade to TLS after AUTH TLS; resolves once the handshake is done. */
  async startTls(options = {}) {
    const r = await this.cmd('AUTH TLS');
    if (r.code !== 234) throw new Error(`AUTH TLS: ${r.code}`);
    const raw = this.socket;
    raw.removeAllListeners('data');
    raw.removeAllListeners('close');
    const secure = tls.connect({ socket: raw, rejectUnauthorized: false, ...options });
    await new Promise((resolve, reject) => { secure.once('secureConnect', resolve); secure.once('error', reject); });
    this.attach(secure);
    return secure;
  }

  /** PASV (or EPSV) and connect a data socket; returns it once connected. */
  async passive(kind = 'PASV') {
    const r = await this.cmd(kind);
    let port, host = '127.0.0.1';
    if (kind === 'PASV') {
      if (r.code !== 227) throw new Error(`PASV: ${r.code} ${r.text}`);
      ({ host, port } = parsePasvReply(r.text));
    } else {
      if (r.code !== 229) throw new Error(`EPSV: ${r.code} ${r.text}`);
      port = parseEpsvReply(r.text);
      host = this.socket.remoteAddress;
    }
    return connectData(host, port);
  }

  close() { this.socket.destroy(); }
}

export function connectData(host, port) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    s.setTimeout(30_000, () => s.destroy());
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Everything a data socket delivers until it closes. */
export function collect(socket) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    socket.on('data', (d) => chunks.push(d));
    socket.once('end', () => resolve(Buffer.concat(chunks)));
    socket.once('error', reject);
  });
}

/** What the server says first to a new connection (bounded: 10 s). */
export function firstLine(port, host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const c = net.connect({ port, host });
    let text = '';
    c.setTimeout(10_000, () => { c.destroy(); reject(new Error('no reply')); });
    c.on('data', (d) => { text += d; if (text.includes('\r\n')) { c.destroy(); resolve(text); } });
    c.on('error', reject);
    c.on('close', () => resolve(text));
  });
}
