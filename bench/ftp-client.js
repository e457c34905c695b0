// The benchmark's neutral FTP client: raw sockets, no library, the same code for every server.
// It does only what the workloads need (login, EPSV/PASV, RETR, STOR, LIST/MLSD, explicit TLS)
// and keeps per-byte work to counting, so the server is what gets measured.
import net from 'node:net';
import tls from 'node:tls';

const TIMEOUT = 60_000;
// Plain downloads are read into this one buffer and only counted: a fresh 64 KiB buffer per read
// (what 'data' events cost) made the client's CPU, not the server, the limit with 8 streams, and
// varied 5x with the client's heap state. Contents are discarded, so every socket can share it.
const SINK = Buffer.allocUnsafe(1024 * 1024);

export class BenchClient {
  constructor(socket) {
    this.socket = socket;
    this.buffer = '';
    this.waiting = [];
    this.replies = [];
    this.session = undefined;
    this.secure = false;
    this.attach(socket);
  }

  /** Connect, read the greeting and (unless `login: false`) log in; `tls` upgrades with AUTH TLS first. */
  static async open({ host = '127.0.0.1', port, user, password, tls: useTls = false, login = true }) {
    const socket = await new Promise((resolve, reject) => {
      const s = net.connect({ host, port });
      s.setNoDelay(true);
      s.setTimeout(TIMEOUT, () => s.destroy(new Error('control connection timed out')));
      s.once('connect', () => { s.removeAllListeners('error'); resolve(s); });
      s.once('error', reject);
    });
    const c = new BenchClient(socket);
    const greeting = await c.read();
    if (greeting.code !== 220) throw new Error(`greeting: ${greeting.text}`);
    c.host = host;
    if (useTls) await c.upgrade();
    if (login) await c.login(user, password);
    if (useTls) {
      await c.expect('PBSZ 0', 200);
      await c.expect('PROT P', 200);
    }
    return c;
  }

  attach(socket) {
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => {
      this.buffer += chunk;
      for (;;) {
        const r = this.parse();
        if (!r) break;
        const w = this.waiting.shift();
        if (w) w.resolve(r); else this.replies.push(r);
      }
    });
    const fail = (err) => { for (const w of this.waiting.splice(0)) w.reject(err); this.failed = err; };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('control connection closed')));
  }

  /** One complete reply from the buffer (multi-line aware), or undefined. */
  parse() {
    const first = this.buffer.indexOf('\n');
    if (first < 0) return undefined;
    const line = this.buffer.slice(0, first).replace(/\r$/, '');
    const code = Number(line.slice(0, 3));
    if (line[3] !== '-') {
      this.buffer = this.buffer.slice(first + 1);
      return { code, text: line };
    }
    const end = new RegExp(`(^|\\n)${line.slice(0, 3)} [^\\n]*\\n`).exec(this.buffer.slice(first));
    if (!end) return undefined;
    const stop = first + end.index + end[0].length;
    const text = this.buffer.slice(0, stop);
    this.buffer = this.buffer.slice(stop);
    return { code, text };
  }

  read() {
    const r = this.replies.shift();
    if (r) return Promise.resolve(r);
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  send(command) {
    this.socket.write(`${command}\r\n`);
    return this.read();
  }

  async expect(command, ...codes) {
    const r = await this.send(command);
    if (!codes.includes(r.code)) throw new Error(`${command.startsWith('PASS') ? 'PASS' : command}: ${r.text.trim()}`);
    return r;
  }

  async login(user, password) {
    const u = await this.send(`USER ${user}`);
    if (u.code === 230) return;
    if (u.code !== 331) throw new Error(`USER: ${u.text}`);
    await this.expect(`PASS ${password}`, 230);
  }

  async upgrade() {
    await this.expect('AUTH TLS', 234);
    const raw = this.socket;
    raw.removeAllListeners('data');
    raw.removeAllListeners('close');
    raw.removeAllListeners('error');
    raw.on('error', () => {});
    const s = await new Promise((resolve, reject) => {
      const t = tls.connect({ socket: raw, rejectUnauthorized: false });
      t.once('secureConnect', () => resolve(t));
      t.once('error', reject);
    });
    // TLS 1.3 sessions arrive after the handshake: keep the latest for data connections to resume.
    this.session = s.getSession();
    s.on('session', (session) => { this.session = session; });
    this.socket = s;
    this.secure = true;
    this.attach(s);
  }

  async type(t) {
    if (this.currentType === t) return;
    await this.expect(`TYPE ${t}`, 200);
    this.currentType = t;
  }

  /** A passive data connection: EPSV, or PASV where EPSV is refused. */
  async passive() {
    let port;
    if (this.epsv !== false) {
      const r = await this.send('EPSV');
      const m = /\(\|\|\|(\d+)\|\)/.exec(r.text);
      if (r.code === 229 && m) port = Number(m[1]);
      else this.epsv = false;
    }
    if (port === undefined) {
      const r = await this.expect('PASV', 227);
      const m = /(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)/.exec(r.text);
      port = Number(m[5]) * 256 + Number(m[6]);
    }
    return new Promise((resolve, reject) => {
      // Under TLS the bytes must go through the TLS socket, which reads its own way.
      const s = this.secure ? net.connect({ host: this.host, port })
        : net.connect({ host: this.host, port, onread: { buffer: SINK, callback: (n) => { s.counted += n; } } });
      s.counted = 0;
      s.setTimeout(TIMEOUT, () => s.destroy(new Error('data connection timed out')));
      s.once('connect', () => { s.removeAllListeners('error'); s.on('error', () => {}); resolve(s); });
      s.once('error', reject);
    });
  }

  /** TLS on a data connection once the server has answered the command, resuming the control session. */
  secureData(raw) {
    if (!this.secure) return Promise.resolve(raw);
    return new Promise((resolve, reject) => {
      const t = tls.connect({ socket: raw, session: this.session, rejectUnauthorized: false });
      t.once('secureConnect', () => { t.removeAllListeners('error'); t.on('error', () => {}); resolve(t); });
      t.once('error', reject);
    });
  }

  /** Run one data command; `move(data)` does the bytes. Resolves with move's result once 226 is in. */
  async transfer(command, type, move) {
    await this.type(type);
    const raw = await this.passive();
    const first = await this.send(command);
    if (first.code !== 150 && first.code !== 125) { raw.destroy(); throw new Error(`${command}: ${first.text.trim()}`); }
    const data = await this.secureData(raw);
    const [result, final] = await Promise.all([move(data), this.read()]);
    if (final.code !== 226 && final.code !== 250) throw new Error(`${command}: ${final.text.trim()}`);
    return result;
  }

  /** Download and count the bytes. */
  retr(path) {
    return this.transfer(`RETR ${path}`, 'I', (data) => drain(data));
  }

  /** Upload `size` bytes from one reused buffer, respecting backpressure. */
  stor(path, size, chunk) {
    return this.transfer(`STOR ${path}`, 'I', (data) => new Promise((resolve, reject) => {
      let left = size;
      data.on('error', reject);
      const pump = () => {
        while (left > 0) {
          const n = Math.min(left, chunk.length);
          left -= n;
          if (!data.write(n === chunk.length ? chunk : chunk.subarray(0, n))) { data.once('drain', pump); return; }
        }
        data.end();
      };
      data.once('close', () => resolve(size - left));
      pump();
    }));
  }

  /** A listing (LIST or MLSD): returns its byte count. */
  listing(command) {
    return this.transfer(command, 'A', (data) => drain(data));
  }

  async quit() {
    try { await Promise.race([this.send('QUIT'), new Promise((r) => setTimeout(r, 2000))]); } catch { /* closing anyway */ }
    this.socket.destroy();
  }

  destroy() { this.socket.destroy(); }
}

/** Count a download's bytes: through the shared sink for plain sockets, 'data' events under TLS. */
function drain(data) {
  return new Promise((resolve, reject) => {
    const sunk = data.counted !== undefined;
    let n = 0;
    const total = () => (sunk ? data.counted : n);
    if (sunk) {
      // A sink-read socket reads from the start: a small file can be in and closed before the
      // reply that lets us get here has been parsed.
      if (data.readableEnded || data.destroyed) { resolve(total()); return; }
    } else {
      data.on('data', (c) => { n += c.length; });
    }
    data.once('end', () => resolve(total()));
    data.once('error', reject);
    data.once('close', () => resolve(total()));
  });
}
