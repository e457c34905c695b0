// FtpClient and the wharf CLI against servers that cannot run here, emulated from what they send:
// IIS (MS-DOS LIST, 125 replies, `257 "/dir" directory created.`), FileZilla Server (MLSD facts in
// its own order, EPSV refused, PASV with a private address, `150 Starting data transfer.`), and a
// bare RFC 959 server (502 to FEAT, MLSD, SIZE and MDTM; `ls -l` without a group). Also replies
// out of the usual order: the 1xx after the data, the 226 before it. Every byte is checked.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Readable } from 'node:stream';
import { FtpClient, FtpError, mirrorDown, mirrorUp } from '../../dist/index.js';
import { dialectServer } from '../helpers/dialect-server.js';
import { decodeHostPort } from '../../dist/protocol/address.js';
import { run } from '../helpers/run.js';

const BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

const connect = (port, extra = {}) => FtpClient.connect({
  host: '127.0.0.1', port, user: 'u', password: 'p', timeouts: { connect: 5000, reply: 5000, dataIdle: 5000 }, ...extra,
});

const blob = crypto.randomBytes(300_000 + 17);

for (const dialect of ['iis', 'filezilla', 'bare']) {
  describe(`an emulated ${dialect} server`, () => {
    let srv, client, tmp;
    before(async () => {
      srv = await dialectServer(dialect, {
        tree: {
          '/pub/blob.bin': blob,
          '/pub/ lead space.txt': 'leading',
          '/pub/ünï cödé.txt': 'utf8',
          '/pub/sub': null,
          '/pub/sub/inner.txt': 'inner',
        },
      });
      client = await connect(srv.port);
      tmp = await fs.mkdtemp(path.join(os.tmpdir(), `wharf-dialect-${dialect}-`));
    });
    after(async () => {
      await client?.close().catch(() => {});
      await srv?.close();
      if (tmp) await fs.rm(tmp, { recursive: true, force: true });
    });

    test('lists a folder: names (leading spaces, UTF-8), types, sizes, times', async () => {
      const entries = await client.list('pub');
      const by = new Map(entries.map((e) => [e.name, e]));
      assert.deepEqual([...by.keys()].sort(), [' lead space.txt', 'blob.bin', 'sub', 'ünï cödé.txt'].sort());
      assert.equal(by.get('blob.bin').type, 'file');
      assert.equal(by.get('blob.bin').size, blob.length);
      assert.equal(by.get('sub').type, 'dir');
      assert.equal(by.get(' lead space.txt').size, 7);
      // 2024-01-02 03:04:05 UTC, to the precision each format has (`ls -l` shows only the day of an old file).
      const m = by.get('blob.bin').modified;
      assert.ok(m instanceof Date);
      const unit = dialect === 'bare' ? 86400_000 : 60_000;
      assert.equal(Math.floor(m.getTime() / unit), Math.floor(Date.UTC(2024, 0, 2, 3, 4, 5) / unit));
    });

    test('downloads byte for byte, with progress, and resumes', async () => {
      const local = path.join(tmp, 'blob.bin');
      let last;
      assert.equal(await client.download('pub/blob.bin', local, { onProgress: (p) => { last = p; } }), blob.length);
      assert.ok(blob.equals(await fs.readFile(local)));
      assert.equal(last.bytes, blob.length);
      await fs.truncate(local, 123_457);
      await client.download('pub/blob.bin', local, { offset: 123_457 });
      assert.ok(blob.equals(await fs.readFile(local)));
      const lead = path.join(tmp, 'lead.txt');
      await client.download('pub/ lead space.txt', lead);
      assert.equal(await fs.readFile(lead, 'utf8'), 'leading');
    });

    test('uploads, resumes an upload, appends', async () => {
      await client.upload(Readable.from([blob.subarray(0, 100_000)]), 'pub/up.bin');
      await client.upload(Readable.from([blob.subarray(100_000)]), 'pub/up.bin', { offset: 100_000 });
      assert.ok(blob.equals(srv.files.get('/pub/up.bin').data));
      await client.append(Readable.from([Buffer.from('tail')]), 'pub/up.bin');
      assert.equal(srv.files.get('/pub/up.bin').data.length, blob.length + 4);
    });

    test('mkdir, ensureDir over an existing folder, rename, delete, errors as FtpError 550', async () => {
      await client.mkdir('made');
      assert.ok(srv.files.get('/made')?.dir);
      await client.ensureDir('made/a/b');
      await client.ensureDir('made/a/b');
      assert.ok(srv.files.get('/made/a/b')?.dir);
      await client.upload(Readable.from([Buffer.from('x')]), 'made/a/x.txt');
      await client.rename('made/a/x.txt', 'made/y.txt');
      assert.equal(srv.files.get('/made/y.txt').data.toString(), 'x');
      await client.remove('made/y.txt');
      assert.equal(srv.files.has('/made/y.txt'), false);
      await assert.rejects(client.remove('made/none.txt'), (err) => err instanceof FtpError && err.code === 550);
      await assert.rejects(client.download('made/none.txt', path.join(tmp, 'none.txt')), (err) => err.code === 550);
      await assert.rejects(fs.stat(path.join(tmp, 'none.txt')));
      assert.equal(await client.pwd(), '/');
    });

    test('removes a folder recursively from its listing', async () => {
      await client.ensureDir('gone/x/y');
      await client.upload(Readable.from([Buffer.from('1')]), 'gone/x/y/1.txt');
      await client.upload(Readable.from([Buffer.from('2')]), 'gone/ 2.txt');
      await client.removeDir('gone', { recursive: true });
      assert.deepEqual([...srv.files.keys()].filter((p) => p.startsWith('/gone')), []);
    });

    test('mirrors down and up; a second run skips what is unchanged', async () => {
      const dest = path.join(tmp, 'mirror');
      const down = await mirrorDown(client, () => connect(srv.port), '/pub', dest, { parallel: 2 });
      assert.equal(down.failed, 0);
      assert.ok(blob.equals(await fs.readFile(path.join(dest, 'blob.bin'))));
      assert.equal(await fs.readFile(path.join(dest, 'sub/inner.txt'), 'utf8'), 'inner');
      assert.equal(await fs.readFile(path.join(dest, ' lead space.txt'), 'utf8'), 'leading');
      const again = await mirrorDown(client, () => connect(srv.port), '/pub', dest, { parallel: 2 });
      assert.equal(again.transferred + again.resumed, 0, JSON.stringify(again));
      const up = await mirrorUp(client, () => connect(srv.port), dest, '/back', { parallel: 2 });
      assert.equal(up.failed, 0);
      assert.ok(blob.equals(srv.files.get('/back/blob.bin').data));
      assert.equal(srv.files.get('/back/sub/inner.txt').data.toString(), 'inner');
    });

    test('the CLI: ls -l, get, put', async () => {
      const url = (p) => `ftp://u:p@127.0.0.1:${srv.port}/${p}`;
      const env = { ...process.env, NETRC: '/nonexistent', WHARF_HISTFILE: '/dev/null' };
      const ls = await run(process.execPath, [BIN, 'ls', '-l', url('pub/')], { timeout: 30_000, env });
      assert.equal(ls.status, 0, ls.stderr);
      assert.match(ls.text, /blob\.bin/);
      assert.match(ls.text, /sub/);
      const get = await run(process.execPath, [BIN, 'get', url('pub/blob.bin'), path.join(tmp, 'cli.bin')], { timeout: 30_000, env });
      assert.equal(get.status, 0, get.stderr);
      assert.ok(blob.equals(await fs.readFile(path.join(tmp, 'cli.bin'))));
      const put = await run(process.execPath, [BIN, 'put', '-p', path.join(tmp, 'cli.bin'), url('cli/in/')], { timeout: 30_000, env });
      assert.equal(put.status, 0, put.stderr);
      assert.ok(blob.equals(srv.files.get('/cli/in/cli.bin').data));
    });
  });
}

test('FileZilla Server behind NAT: EPSV refused, PASV names a private address, the client uses the server\'s', async () => {
  const srv = await dialectServer('filezilla', { tree: { '/f.bin': blob } });
  const lines = [];
  const c = await connect(srv.port, { log: (l) => lines.push(l) });
  try {
    await c.download('f.bin', path.join(os.tmpdir(), `wharf-fz-${process.pid}.bin`));
    assert.ok(blob.equals(await fs.readFile(path.join(os.tmpdir(), `wharf-fz-${process.pid}.bin`))));
    await c.list();
    assert.equal(srv.commands.filter((l) => l === 'EPSV').length, 1, 'EPSV is not asked again once refused');
    assert.ok(lines.some((l) => /^< 227 .*192,168,1,20/.test(l)));
  } finally {
    await c.close();
    await srv.close();
    await fs.rm(path.join(os.tmpdir(), `wharf-fz-${process.pid}.bin`), { force: true });
  }
});

for (const timing of ['dataFirst', 'finalFirst']) {
  test(`replies out of the usual order (${timing === 'dataFirst' ? 'the data before the 1xx' : 'the 226 before the data ends'}): every byte, in step`, async () => {
    const srv = await dialectServer('iis', { tree: { '/f.bin': blob, '/d/a.txt': 'a', '/d/b.txt': 'b' }, timing });
    const c = await connect(srv.port);
    try {
      const chunks = [];
      const { Writable } = await import('node:stream');
      await c.download('f.bin', new Writable({ write(ch, _e, cb) { chunks.push(ch); cb(); } }));
      assert.ok(blob.equals(Buffer.concat(chunks)));
      assert.deepEqual((await c.list('d')).map((e) => e.name).sort(), ['a.txt', 'b.txt']);
      assert.equal(await c.pwd(), '/', 'replies still in step');
    } finally {
      await c.close();
      await srv.close();
    }
  });
}

/** PORT: the server connects back (fakeServer's active()). */
const activeHandlers = {
  PORT: async (a, ctx) => { const hp = decodeHostPort(a); await ctx.active(hp.host, hp.port); return '200 PORT command successful.'; },
};

test('passive mode refused for good (vsftpd pasv_enable=NO: 550 to EPSV and PASV): falls back to active, once', async () => {
  const srv = await dialectServer('bare', {
    tree: { '/f.bin': blob },
    overrides: { ...activeHandlers, EPSV: () => '550 Permission denied.', PASV: () => '550 Permission denied.' },
  });
  const c = await connect(srv.port);
  try {
    const chunks = [];
    const { Writable } = await import('node:stream');
    await c.download('f.bin', new Writable({ write(ch, _e, cb) { chunks.push(ch); cb(); } }));
    assert.ok(blob.equals(Buffer.concat(chunks)));
    await c.upload(Readable.from([Buffer.from('up')]), 'up.txt');
    assert.equal(srv.files.get('/up.txt').data.toString(), 'up');
    assert.equal(srv.commands.filter((l) => l === 'PASV').length, 1, 'passive is not asked again');
    assert.equal(srv.commands.filter((l) => l.startsWith('PORT ')).length, 2);
  } finally {
    await c.close();
    await srv.close();
  }
});

test('active mode refused for good (port_enable=NO): falls back to passive; a 4xx or both refused still fail', async () => {
  const srv = await dialectServer('bare', { tree: { '/f.bin': blob }, overrides: { PORT: () => '500 Illegal PORT command.' } });
  const c = await connect(srv.port, { passive: false });
  try {
    const chunks = [];
    const { Writable } = await import('node:stream');
    await c.download('f.bin', new Writable({ write(ch, _e, cb) { chunks.push(ch); cb(); } }));
    assert.ok(blob.equals(Buffer.concat(chunks)));
  } finally {
    await c.close();
    await srv.close();
  }
  // A transient refusal is not a mode refused: it stands.
  const busy = await dialectServer('bare', { tree: { '/f.bin': blob }, overrides: { PASV: () => '421 Too many passive connections.' } });
  const b = await connect(busy.port);
  try {
    await assert.rejects(b.download('f.bin', new (await import('node:stream')).PassThrough()), (err) => err.code === 421);
    assert.equal(busy.commands.filter((l) => l.startsWith('PORT')).length, 0);
  } finally {
    await b.close().catch(() => {});
    await busy.close();
  }
  // Refused both ways: the error of the mode asked for.
  const none = await dialectServer('bare', { overrides: { PASV: () => '550 Permission denied.', PORT: () => '500 Illegal PORT command.' } });
  const n = await connect(none.port);
  try {
    await assert.rejects(n.list(), (err) => err instanceof FtpError && err.code === 550 && /PASV/.test(err.command));
    await assert.rejects(n.list(), (err) => err instanceof FtpError && err.code === 550);
  } finally {
    await n.close();
    await none.close();
  }
});

test('MLST in FEAT but MLSD answered 502: listings fall back to LIST, and MLSD is not asked again', async () => {
  const srv = await dialectServer('filezilla', { tree: { '/d/a.txt': 'a', '/d/sub/b.txt': 'bb' }, overrides: { MLSD: () => '502 Command not implemented.' } });
  const c = await connect(srv.port);
  try {
    assert.deepEqual((await c.list('d')).map((e) => [e.name, e.type]).sort(), [['a.txt', 'file'], ['sub', 'dir']]);
    assert.deepEqual((await c.list('d/sub')).map((e) => e.name), ['b.txt']);
    assert.equal(srv.commands.filter((l) => l.startsWith('MLSD')).length, 1);
    // A missing folder is still an error, not an empty listing.
    await assert.rejects(c.list('nowhere'), (err) => err.code === 550);
  } finally {
    await c.close();
    await srv.close();
  }
  // A 550 to MLSD is about the folder: it stands, and MLSD stays in use.
  const fz = await dialectServer('filezilla', { tree: { '/d/a.txt': 'a' } });
  const f = await connect(fz.port);
  try {
    await assert.rejects(f.list('nowhere'), (err) => err.code === 550);
    await f.list('d');
    assert.deepEqual(fz.commands.filter((l) => /^(MLSD|LIST)/.test(l)), ['MLSD nowhere', 'MLSD d']);
  } finally {
    await f.close();
    await fz.close();
  }
});

test('MKD answered 250 instead of 257 is a folder made (mkdir, ensureDir)', async () => {
  const srv = await dialectServer('bare', {
    overrides: { MKD: (a, ctx, defaults) => { srv.files.set(`/${a.replace(/^\/+/, '')}`, { dir: true, mtime: new Date() }); void ctx; void defaults; return '250 MKD command successful.'; } },
  });
  const c = await connect(srv.port);
  try {
    await c.mkdir('made');
    await c.ensureDir('/x/y');
    assert.ok(srv.files.get('/made')?.dir);
    assert.ok(srv.files.get('/x/y')?.dir);
    assert.deepEqual(srv.commands.filter((l) => /^(MKD|CWD|MLST)/.test(l)), ['MKD made', 'MKD /x', 'MKD /x/y']);
  } finally {
    await c.close();
    await srv.close();
  }
});

test('a server that hangs up after an idle timeout: the next call fails with its 421 reason', async () => {
  // What ProFTPD's TimeoutIdle and IIS's connection timeout do: 421 unasked, then close.
  const srv = await dialectServer('iis', {
    overrides: {
      OPTS: (_a, ctx) => {
        setTimeout(() => { ctx.reply('421 Idle timeout (2 seconds): closing control connection'); ctx.ctl.end(); }, 100);
        return '200 OPTS UTF8 command successful - UTF8 encoding now ON.';
      },
    },
  });
  const c = await connect(srv.port);
  try {
    await new Promise((r) => setTimeout(r, 400));
    await assert.rejects(c.pwd(), (err) => err.name === 'FtpConnectionError' && /421 Idle timeout/.test(err.message));
  } finally {
    await c.close();
    await srv.close();
  }
});

test('segmented download from a server without SIZE (502) is one ordinary download; with SIZE and REST it is split', async () => {
  const big = crypto.randomBytes(3 * 1024 * 1024 + 5);
  const env = { ...process.env, NETRC: '/nonexistent', WHARF_HISTFILE: '/dev/null' };
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-dialect-seg-'));
  try {
    for (const dialect of ['bare', 'iis']) {
      const srv = await dialectServer(dialect, { tree: { '/big.bin': big } });
      try {
        const local = path.join(tmp, `${dialect}.bin`);
        const r = await run(process.execPath, [BIN, 'get', '--segments', '3', `ftp://u:p@127.0.0.1:${srv.port}/big.bin`, local], { timeout: 30_000, env });
        assert.equal(r.status, 0, `${dialect}: ${r.stderr}`);
        assert.ok(big.equals(await fs.readFile(local)), dialect);
        const rests = srv.commands.filter((l) => l.startsWith('REST ')).length;
        if (dialect === 'bare') assert.equal(rests, 0, 'no ranges without a size');
        else assert.ok(rests >= 2, 'split into ranges');
      } finally {
        await srv.close();
      }
    }
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
});
