// A scripted FTP server for client tests: timings and misbehaviour real servers do not show on demand.
import net from 'node:net';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * A scripted FTP server. `handlers[VERB](arg, ctx)` may answer a command (ctx.reply(text)); the
 * defaults log in, answer FEAT/TYPE/PWD/NOOP/SIZE/REST/QUIT, open a passive listener for EPSV,
 * send `file` for RETR (150, bytes, 226) and answer ABOR with 225. Commands run one at a time,
 * in order, as a real server's would. `greeting` is written first (lines joined by CRLF).
 */
export async function fakeServer(handlers = {}, { file = Buffer.alloc(1000, 65), greeting = '220 scripted' } = {}) {
  const commands = [];
  const sockets = new Set();
  const track = (s) => { sockets.add(s); s.on('error', () => {}); s.on('close', () => sockets.delete(s)); s.setTimeout(20_000, () => s.destroy()); };
  const server = net.createServer((ctl) => {
    track(ctl);
    ctl.setEncoding('latin1');
    let dataServer;
    let dataSocket = Promise.resolve(undefined);
    const ctx = {
      reply: (text) => { if (!ctl.destroyed) ctl.write(`${text}\r\n`); },
      data: () => dataSocket,
      file,
      ctl,
    };
    const openPassive = () => new Promise((resolve) => {
      dataServer?.close();
      const ds = net.createServer();
      dataServer = ds;
      dataSocket = new Promise((r) => {
        const timer = setTimeout(() => { ds.close(); r(undefined); }, 10_000);
        ds.once('connection', (s) => { clearTimeout(timer); track(s); ds.close(); r(s); });
      });
      ds.listen(0, '127.0.0.1', () => resolve(ds.address().port));
    });
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
      EPSV: async () => ctx.reply(`229 Entering Extended Passive Mode (|||${await openPassive()}|)`),
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
    ctl.write(`${greeting}\r\n`);
    let buf = '';
    let chain = Promise.resolve();
    ctl.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        commands.push(line);
        const verb = line.split(' ')[0].toUpperCase();
        const arg = line.slice(verb.length + 1);
        const h = handlers[verb] ?? defaults[verb] ?? (() => ctx.reply('502 not here'));
        chain = chain.then(() => h(arg, ctx, defaults)).catch(() => {});
      }
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: server.address().port,
    commands,
    async close() { for (const s of sockets) s.destroy(); await new Promise((r) => server.close(r)); },
  };
}
