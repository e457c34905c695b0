// A scriptable, hostile FTP server for tests of the client and the CLI: one handler per verb, on
// 127.0.0.1 port 0. Every socket, listener and wait is bounded by HARD_MS; close() ends them all.
import net from 'node:net';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const HARD_MS = 20_000;
export const BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

/**
 * handlers: { VERB(arg, ctx) } returning a reply string (CRLF added) or undefined (answered itself).
 * ctx: write(line), pasv() (opens a listener, answers 227, resolves with the data socket), state {}.
 */
export async function hostileFtp(handlers = {}) {
  const commands = [];
  const sockets = new Set();
  const servers = new Set();
  const track = (s) => { sockets.add(s); s.on('error', () => {}); s.setTimeout(HARD_MS, () => s.destroy()); s.on('close', () => sockets.delete(s)); return s; };
  const all = {
    USER: () => '331 pass please', PASS: () => '230 ok', FEAT: () => '211 none', SYST: () => '215 UNIX Type: L8',
    TYPE: () => '200 ok', PWD: () => '257 "/" is cwd', CWD: () => '250 ok', OPTS: () => '200 ok', NOOP: () => '200 ok',
    EPSV: () => '500 no', ABOR: () => '226 aborted', SIZE: () => '550 no', MDTM: () => '550 no', STAT: () => '550 no',
    MLST: () => '550 no', PASV: (_a, ctx) => { ctx.state.data = ctx.pasv(); },
    QUIT: (_a, ctx) => { ctx.write('221 bye'); ctx.sock.end(); },
    ...handlers,
  };
  const server = net.createServer((sock) => {
    track(sock);
    const ctx = {
      sock, state: {},
      write(text) { if (!sock.destroyed) sock.write(text.endsWith('\n') ? text : `${text}\r\n`); },
      pasv() {
        return new Promise((resolve) => {
          const ds = net.createServer((d) => { track(d); ds.close(); resolve(d); });
          servers.add(ds);
          ds.listen(0, '127.0.0.1', () => {
            const p = ds.address().port;
            ctx.write(`227 Entering Passive Mode (127,0,0,1,${p >> 8},${p & 255})`);
          });
          setTimeout(() => ds.close(), HARD_MS).unref();
        });
      },
    };
    let buf = '';
    let chain = Promise.resolve();
    sock.on('data', (chunk) => {
      buf += chunk.toString('latin1');
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).replace(/\r$/, '');
        buf = buf.slice(nl + 1);
        commands.push(line);
        const sp = line.indexOf(' ');
        const verb = (sp < 0 ? line : line.slice(0, sp)).toUpperCase();
        const arg = sp < 0 ? '' : line.slice(sp + 1);
        chain = chain.then(async () => {
          const h = all[verb];
          const r = h ? await h(arg, ctx) : '502 not implemented';
          if (typeof r === 'string') ctx.write(r);
        }).catch(() => sock.destroy());
      }
    });
    ctx.write('220 hostile ftp');
  });
  servers.add(server);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  return {
    port,
    commands,
    url: (p = '') => `ftp://u:secretpw@127.0.0.1:${port}/${p}`,
    close() { for (const s of servers) s.close(); for (const s of sockets) s.destroy(); },
  };
}

/**
 * RETR handler sending `body` over the PASV data connection, then `final` (426 if the client
 * closed the data connection first). The next command (an ABOR) is read only after that reply.
 */
export const sendFile = (body, final = '226 done') => async (_a, ctx) => {
  const d = await ctx.state.data;
  ctx.write('150 here it comes');
  await new Promise((resolve) => {
    let finished = false;
    d.end(body, () => { finished = true; });
    d.on('close', () => setTimeout(() => { ctx.write(finished ? final : '426 connection closed'); resolve(); }, 20));
  });
};

/** Run the CLI under a hard time bound; resolves { code, stdout, stderr }. */
export function wharf(args, { timeout = 20_000, cwd } = {}) {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], timeout, killSignal: 'SIGKILL' });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code, signal) => resolve({ code: code ?? -1, signal, stdout, stderr }));
  });
}

/** Parse a PORT argument h1,h2,h3,h4,p1,p2. */
export function parsePort(arg) {
  const n = arg.split(',').map(Number);
  return { host: n.slice(0, 4).join('.'), port: n[4] * 256 + n[5] };
}
