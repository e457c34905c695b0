// An in-memory FTP server that speaks like servers we cannot run here: IIS (MS-DOS style LIST,
// 125 replies), FileZilla Server (MLSD facts in its own order, PASV with a private address, EPSV
// refused), and a bare RFC 959 server (502 to FEAT, MLSD, SIZE, MDTM; `ls -l` without a group).
// Built on fake-server.js: 127.0.0.1, port 0, every socket and wait bounded.
import { fakeServer, sleep } from './fake-server.js';

/** The replies and formats of each server family, as they print them. */
const DIALECTS = {
  iis: {
    greeting: '220 Microsoft FTP Service',
    feat: '211-Extended features supported:\r\n LANG EN*\r\n UTF8\r\n AUTH TLS;TLS-C;SSL;TLS-P;\r\n PBSZ\r\n PROT C;P;\r\n CCC\r\n HOST\r\n SIZE\r\n MDTM\r\n REST STREAM\r\n211 END',
    opening: '125 Data connection already open; Transfer starting.',
    done: '226 Transfer complete.',
    mkd: (p) => `257 "${p}" directory created.`,
    exists: '550 Cannot create a file when that file already exists.',
    missing: '550 The system cannot find the file specified.',
    notEmpty: '550 The directory is not empty.',
    ok: (verb) => `250 ${verb} command successful.`,
    rnfr: '350 Requested file action pending further information.',
    pwd: (p) => `257 "${p}" is current directory.`,
    epsv: true,
    pasvHost: '127,0,0,1',
    mlsd: false,
    list: 'dos',
  },
  filezilla: {
    greeting: '220-FileZilla Server 1.8.0\r\n220 Please visit https://filezilla-project.org/',
    feat: '211-Features:\r\n MDTM\r\n REST STREAM\r\n SIZE\r\n MLST type*;size*;modify*;perm*;\r\n MLSD\r\n AUTH SSL\r\n AUTH TLS\r\n PROT\r\n PBSZ\r\n UTF8\r\n TVFS\r\n MFMT\r\n211 End',
    opening: '150 Starting data transfer.',
    done: '226 Operation successful',
    mkd: (p) => `257 "${p}" created successfully.`,
    exists: '550 Directory already exists',
    missing: "550 Couldn't open the file or directory",
    notEmpty: '550 Directory not empty.',
    ok: () => '250 OK',
    rnfr: '350 File exists, ready for destination name.',
    pwd: (p) => `257 "${p}" is current directory.`,
    // Behind a NAT router that mangles EPSV: refused; PASV names the private address.
    epsv: false,
    pasvHost: '192,168,1,20',
    mlsd: true,
    list: 'unix',
  },
  bare: {
    greeting: '220 bare FTP server ready',
    feat: null,
    opening: '150 Opening data connection.',
    done: '226 Closing data connection.',
    mkd: (p) => `257 "${p}" created.`,
    exists: '550 File exists.',
    missing: '550 No such file or directory.',
    notEmpty: '550 Directory not empty.',
    ok: () => '250 Requested file action okay, completed.',
    rnfr: '350 Ready for RNTO.',
    pwd: (p) => `257 "${p}"`,
    epsv: false,
    pasvHost: '127,0,0,1',
    mlsd: false,
    list: 'unix-bare',
    noSize: true,
  },
};

const MON = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n) => String(n).padStart(2, '0');

/** IIS: `02-12-26  07:01PM       <DIR>          name`, names from column 39. */
function dosLine(name, e) {
  const d = e.mtime;
  const h = d.getUTCHours() % 12 || 12;
  const stamp = `${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())}-${two(d.getUTCFullYear() % 100)}  ${two(h)}:${two(d.getUTCMinutes())}${d.getUTCHours() < 12 ? 'AM' : 'PM'}`;
  return e.dir ? `${stamp}       <DIR>          ${name}` : `${stamp}${String(e.data.length).padStart(21)} ${name}`;
}

/** `ls -l`: times within six months, years before; `bare` drops the group and shows a numeric owner. */
function unixLine(name, e, bare) {
  const d = e.mtime;
  const recent = Date.now() - d.getTime() < 180 * 86400_000;
  const when = `${MON[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2)} ${recent ? `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}` : ` ${d.getUTCFullYear()}`}`;
  const size = String(e.dir ? 0 : e.data.length);
  if (bare) return `${e.dir ? 'drwxr-xr-x' : '-rw-r--r--'}   1 1001 ${size.padStart(10)} ${when} ${name}`;
  return `${e.dir ? 'drwxr-xr-x' : '-rw-r--r--'} 1 ftp ftp ${size.padStart(14)} ${when} ${name}`;
}

const timeVal = (d) => `${d.getUTCFullYear()}${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}`;

/** FileZilla Server's MLSD: size and modify before type, perm between. */
function mlsdLine(name, e) {
  return e.dir ? `modify=${timeVal(e.mtime)};perm=cdeflmp;type=dir; ${name}` : `size=${e.data.length};modify=${timeVal(e.mtime)};perm=adfrw;type=file; ${name}`;
}

/**
 * Start a server of `dialect` ('iis', 'filezilla', 'bare') over an in-memory tree. `tree` maps
 * absolute paths to Buffers (files) or null (folders); parents are made. `timing`: 'dataFirst'
 * sends a download's bytes and closes the data connection before the 1xx reply; 'finalFirst'
 * sends the 226 while half the bytes are still to come. Resolves to the fakeServer result plus
 * `files` (the tree: path -> { dir, data, mtime }).
 */
export async function dialectServer(dialect, { tree = {}, timing, overrides = {} } = {}) {
  const d = DIALECTS[dialect];
  const files = new Map([['/', { dir: true, mtime: new Date(Date.UTC(2024, 0, 2, 3, 4, 5)) }]]);
  const add = (p, data, mtime = new Date(Date.UTC(2024, 0, 2, 3, 4, 5))) => {
    const parts = p.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) {
      const dir = `/${parts.slice(0, i).join('/')}`;
      if (!files.has(dir)) files.set(dir, { dir: true, mtime });
    }
    files.set(`/${parts.join('/')}`, data === null ? { dir: true, mtime } : { dir: false, data: Buffer.from(data), mtime });
  };
  for (const [p, data] of Object.entries(tree)) add(p, data);
  const resolve = (ctx, latin1) => {
    // fakeServer reads commands as latin1 (byte for byte); names are UTF-8 (OPTS UTF8 ON).
    const arg = Buffer.from(latin1, 'latin1').toString('utf8');
    const cwd = ctx.state.cwd ?? '/';
    const parts = (arg.startsWith('/') ? arg : `${cwd}/${arg}`).split('/');
    const out = [];
    for (const p of parts) { if (p === '' || p === '.') continue; if (p === '..') out.pop(); else out.push(p); }
    return `/${out.join('/')}`;
  };
  const children = (dir) => [...files.entries()].filter(([p]) => p !== '/' && p.slice(0, p.lastIndexOf('/')) === (dir === '/' ? '' : dir))
    .map(([p, e]) => [p.slice(p.lastIndexOf('/') + 1), e]);
  /** Send `body` over the data connection with the dialect's replies and the timing asked for. */
  const send = async (ctx, body) => {
    const s = await ctx.data();
    if (!s) { ctx.reply('425 Can\'t open data connection.'); return; }
    if (timing === 'dataFirst') {
      // All of it handed to the kernel and the FIN sent before the 1xx: the client reads the data
      // only once the 1xx is in (a body larger than the socket buffers would never finish).
      await new Promise((r) => s.end(body, r));
      await sleep(50);
      ctx.reply(d.opening);
      await sleep(50);
      ctx.reply(d.done);
      return;
    }
    ctx.reply(d.opening);
    if (timing === 'finalFirst') {
      const half = Math.floor(body.length / 2);
      await new Promise((r) => s.write(body.subarray(0, half), r));
      ctx.reply(d.done);
      await sleep(150);
      s.end(body.subarray(half));
      return;
    }
    s.end(body);
    await new Promise((r) => s.once('close', r));
    ctx.reply(d.done);
  };
  const receive = async (ctx, target, offset, append) => {
    const s = await ctx.data();
    if (!s) { ctx.reply('425 Can\'t open data connection.'); return; }
    ctx.reply(d.opening);
    const chunks = [];
    s.on('data', (c) => chunks.push(c));
    await new Promise((r) => s.once('close', r));
    const old = files.get(target)?.data ?? Buffer.alloc(0);
    const got = Buffer.concat(chunks);
    const data = append ? Buffer.concat([old, got]) : offset ? Buffer.concat([old.subarray(0, offset), got]) : got;
    add(target, data, new Date());
    ctx.reply(d.done);
  };
  const listing = (ctx, arg, mlsd) => {
    const target = resolve(ctx, arg.replace(/^-[a-zA-Z]+\s*/, ''));
    const e = files.get(target);
    if (!e) return undefined;
    const entries = e.dir ? children(target) : [[target.slice(target.lastIndexOf('/') + 1), e]];
    const lines = entries.map(([n, x]) => (mlsd ? mlsdLine(n, x) : d.list === 'dos' ? dosLine(n, x) : unixLine(n, x, d.list === 'unix-bare')));
    if (!mlsd && d.list !== 'dos') lines.unshift(`total ${entries.length}`);
    return Buffer.from(lines.map((l) => `${l}\r\n`).join(''));
  };
  const handlers = {
    FEAT: () => (d.feat ?? '502 Command not implemented.'),
    SYST: () => (dialect === 'iis' ? '215 Windows_NT' : '215 UNIX Type: L8'),
    OPTS: () => '200 OPTS command successful.',
    CLNT: () => '200 Noted.',
    PWD: (_a, ctx) => d.pwd(ctx.state.cwd ?? '/'),
    CWD: (a, ctx) => {
      const p = resolve(ctx, a);
      if (!files.get(p)?.dir) return d.missing;
      ctx.state.cwd = p;
      return d.ok('CWD');
    },
    TYPE: (a) => `200 Type set to ${a}.`,
    EPSV: async (_a, ctx) => (d.epsv ? `229 Entering Extended Passive Mode (|||${await ctx.passive()}|)` : '500 Syntax error, command unrecognized.'),
    PASV: async (_a, ctx) => {
      const port = await ctx.passive();
      return `227 Entering Passive Mode (${d.pasvHost},${port >> 8},${port & 255})`;
    },
    REST: (a, ctx) => { ctx.state.rest = Number(a); return `350 Restarting at ${a}.`; },
    SIZE: (a, ctx) => {
      if (d.noSize) return '502 Command not implemented.';
      const e = files.get(resolve(ctx, a));
      return e && !e.dir ? `213 ${e.data.length}` : d.missing;
    },
    MDTM: (a, ctx) => {
      if (d.noSize) return '502 Command not implemented.';
      const e = files.get(resolve(ctx, a));
      return e ? `213 ${timeVal(e.mtime)}` : d.missing;
    },
    MFMT: (a, ctx) => {
      if (dialect !== 'filezilla') return '502 Command not implemented.';
      const sp = a.indexOf(' ');
      const p = resolve(ctx, a.slice(sp + 1));
      const e = files.get(p);
      if (!e) return d.missing;
      const t = a.slice(0, sp);
      e.mtime = new Date(Date.UTC(+t.slice(0, 4), +t.slice(4, 6) - 1, +t.slice(6, 8), +t.slice(8, 10), +t.slice(10, 12), +t.slice(12, 14)));
      return `213 modify=${t}; ${p}`;
    },
    STAT: () => (dialect === 'filezilla' ? '213-Status follows:\r\n Connected to 127.0.0.1.\r\n Logged in as u.\r\n213 End of status' : '211 ok'),
    MKD: (a, ctx) => {
      const p = resolve(ctx, a);
      if (files.has(p)) return d.exists;
      if (!files.get(p.slice(0, p.lastIndexOf('/')) || '/')?.dir) return d.missing;
      add(p, null, new Date());
      return d.mkd(p);
    },
    RMD: (a, ctx) => {
      const p = resolve(ctx, a);
      if (!files.get(p)?.dir) return d.missing;
      if (children(p).length) return d.notEmpty;
      files.delete(p);
      return d.ok('RMD');
    },
    DELE: (a, ctx) => {
      const p = resolve(ctx, a);
      if (!files.has(p) || files.get(p).dir) return d.missing;
      files.delete(p);
      return d.ok('DELE');
    },
    RNFR: (a, ctx) => { const p = resolve(ctx, a); if (!files.has(p)) return d.missing; ctx.state.rnfr = p; return d.rnfr; },
    RNTO: (a, ctx) => {
      const from = ctx.state.rnfr;
      const to = resolve(ctx, a);
      for (const [p, e] of [...files.entries()]) {
        if (p === from || p.startsWith(`${from}/`)) { files.delete(p); files.set(to + p.slice(from.length), e); }
      }
      return d.ok('RNTO');
    },
    LIST: async (a, ctx) => {
      const body = listing(ctx, a, false);
      if (!body) return d.missing;
      await send(ctx, body);
    },
    MLSD: async (a, ctx) => {
      if (!d.mlsd) return '502 Command not implemented.';
      const body = listing(ctx, a, true);
      if (!body) return d.missing;
      await send(ctx, body);
    },
    MLST: (a, ctx) => {
      if (!d.mlsd) return '502 Command not implemented.';
      const p = resolve(ctx, a);
      const e = files.get(p);
      return e ? `250-Listing ${a}\r\n ${mlsdLine(p, e)}\r\n250 End` : d.missing;
    },
    RETR: async (a, ctx) => {
      const e = files.get(resolve(ctx, a));
      const rest = ctx.state.rest ?? 0;
      ctx.state.rest = 0;
      if (!e || e.dir) return d.missing;
      await send(ctx, e.data.subarray(rest));
    },
    STOR: async (a, ctx) => { const rest = ctx.state.rest ?? 0; ctx.state.rest = 0; await receive(ctx, resolve(ctx, a), rest, false); },
    APPE: async (a, ctx) => { await receive(ctx, resolve(ctx, a), 0, true); },
    ABOR: () => '225 ABOR command successful.',
    ...overrides,
  };
  const server = await fakeServer(handlers, { greeting: d.greeting });
  return { ...server, files };
}
