// A scripted FTP server for tests of the client and the CLI: timings and misbehaviour real servers
// do not show on demand. In-process, on 127.0.0.1 port 0; every socket, listener and wait is
// bounded, and close() ends them all.
import net from 'node:net';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** How long any socket may sit idle, and how long a passive listener waits for its connection. */
const SOCKET_MS = 20_000;
const PASSIVE_MS = 10_000;

/**
 * A plain RFC 959 server, for spreading under a test's own handlers: no FEAT list, no SIZE, no
 * EPSV (so the client uses PASV), and 226 to an ABOR with no transfer running.
 */
export const RFC959 = {
  FEAT: () => '211 none',
  SIZE: () => '550 no',
  EPSV: () => '500 no',
  ABOR: () => '226 aborted',
};

/**
 * A scripted FTP server. `handlers[VERB](arg, ctx, defaults)` answers a command: a string it
 * returns is sent as the reply (CRLF added), or it replies itself with ctx.reply(text), as often as
 * it likes, or never. Commands run one at a time, in order, as a real server's would; a handler
 * that throws ends the control connection. `defaults` are the handlers below (they reply
 * themselves), for a handler that does something first and then what the server would do.
 *
 * The defaults log in (331, 230), list SIZE and REST STREAM in FEAT, answer TYPE/PWD/CWD/NOOP/REST,
 * SIZE with the length of `file`, EPSV (229) and PASV (227) by opening a passive listener, RETR by
 * sending `file` (150, bytes, 226), ABOR with 225 and QUIT with 221; anything else gets 502.
 *
 * ctx: reply(text); passive() opens a passive listener (closing the one before) and resolves its
 * port; active(host, port) connects to the client instead (PORT/EPRT); data() resolves the latest
 * data connection (undefined if none came within PASSIVE_MS); file; ctl (the control socket);
 * state ({}, for the script's own use, per connection).
 *
 * `greeting` is written first (CRLF added), or nothing when it is null. The result has the port,
 * every command line received (`commands`), url(path) with a user and password, and close().
 */
export async function fakeServer(handlers = {}, { file = Buffer.alloc(1000, 65), greeting = '220 scripted' } = {}) {
  const commands = [];
  const sockets = new Set();
  const listeners = new Set();
  const track = (s) => { sockets.add(s); s.on('error', () => {}); s.on('close', () => sockets.delete(s)); s.setTimeout(SOCKET_MS, () => s.destroy()); };
  const server = net.createServer((ctl) => {
    track(ctl);
    ctl.setEncoding('latin1');
    let dataServer;
    let dataSocket = Promise.resolve(undefined);
    const ctx = {
      reply: (text) => { if (!ctl.destroyed) ctl.write(`${text}\r\n`); },
      data: () => dataSocket,
      passive: () => new Promise((resolve) => {
        dataServer?.close();
        const ds = net.createServer();
        dataServer = ds;
        listeners.add(ds);
        dataSocket = new Promise((r) => {
          const timer = setTimeout(() => ds.close(), PASSIVE_MS);
          ds.once('connection', (s) => { clearTimeout(timer); track(s); ds.close(); r(s); });
          ds.once('close', () => { clearTimeout(timer); listeners.delete(ds); r(undefined); });
        });
        ds.listen(0, '127.0.0.1', () => resolve(ds.address().port));
      }),
      /** Active mode: connect to the client's host:port (PORT/EPRT); data() resolves to it. */
      active: (host, port) => {
        dataServer?.close();
        dataSocket = new Promise((r) => {
          const s = net.connect({ host, port });
          track(s);
          const timer = setTimeout(() => { s.destroy(); r(undefined); }, PASSIVE_MS);
          s.once('connect', () => { clearTimeout(timer); r(s); });
          s.once('error', () => { clearTimeout(timer); r(undefined); });
        });
        return dataSocket;
      },
      file,
      ctl,
      state: {},
    };
    const defaults = {
      USER: () => ctx.reply('331 pw'),
      PASS: () => ctx.reply('230 in'),
      FEAT: () => ctx.reply('211-Features:\r\n SIZE\r\n REST STREAM\r\n211 End'),
      TYPE: () => ctx.reply('200 type ok'),
      PWD: () => ctx.reply('257 "/" is here'),
      NOOP: () => ctx.reply('200 noop ok'),
      CWD: () => ctx.reply('250 cwd ok'),
      SIZE: () => ctx.reply(`213 ${file.length}`),
      REST: () => ctx.reply('350 rest ok'),
      EPSV: async () => ctx.reply(`229 Entering Extended Passive Mode (|||${await ctx.passive()}|)`),
      PASV: async () => {
        const port = await ctx.passive();
        ctx.reply(`227 Entering Passive Mode (127,0,0,1,${port >> 8},${port & 255})`);
      },
      RETR: async () => {
        ctx.reply('150 here it comes');
        const s = await dataSocket;
        if (!s) { ctx.reply('425 no data connection'); return; }
        s.end(file);
        await new Promise((r) => s.once('close', r));
        ctx.reply('226 done');
      },
      ABOR: () => ctx.reply('225 no transfer to abort'),
      QUIT: () => { ctx.reply('221 bye'); ctl.end(); },
    };
    if (greeting !== null) ctx.reply(greeting);
    let buf = '';
    let chain = Promise.resolve();
    ctl.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        commands.push(line);
        const sp = line.indexOf(' ');
        const verb = (sp < 0 ? line : line.slice(0, sp)).toUpperCase();
        const arg = sp < 0 ? '' : line.slice(sp + 1);
        const h = handlers[verb] ?? defaults[verb] ?? (() => '502 not implemented');
        chain = chain.then(async () => {
          const r = await h(arg, ctx, defaults);
          if (typeof r === 'string') ctx.reply(r);
        }).catch(() => ctl.destroy());
      }
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  return {
    port,
    commands,
    url: (p = '') => `ftp://u:secretpw@127.0.0.1:${port}/${p}`,
    async close() {
      for (const l of listeners) l.close();
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
