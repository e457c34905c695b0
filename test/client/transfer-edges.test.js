// FtpClient at the edges of a transfer, where only a scripted server shows the timing on demand:
// an abort between the last byte and the final reply, during setup, during a stall; a final reply
// that never comes; close() during a transfer; calls made without awaiting; a failed download into
// a local file. Every socket and wait here is bounded; everything is on 127.0.0.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { FtpClient, AbortError, FtpError, FtpTimeoutError, FtpConnectionError } from '../../dist/index.js';

import { fakeServer, sleep } from '../helpers/fake-server.js';
const sink = () => new Writable({ write(_c, _e, cb) { cb(); } });

const connect = (srv, extra = {}) => FtpClient.connect({
  host: '127.0.0.1', port: srv.port, user: 'u', password: 'p', timeouts: { connect: 5000, reply: 5000, dataIdle: 5000, ...extra.timeouts }, ...extra,
});

/** The replies to later commands are their own: NOOP gets 200, PWD 257, SIZE the size. */
async function assertInStep(c, size = 1000) {
  assert.equal((await c.send('NOOP')).code, 200, 'NOOP gets its own reply');
  assert.equal(await c.pwd(), '/');
  assert.equal(await c.size('x'), size);
}

test('abort after the last byte, before the final 226: AbortError, and the ABOR reply is read (replies stay in step)', async () => {
  let finalSent;
  const srv = await fakeServer({
    // Like pyftpdlib: the transfer's 226 comes late, and the ABOR (read after it) gets 225.
    RETR: async (_a, ctx) => {
      ctx.reply('150 here it comes');
      (await ctx.data()).end(ctx.file);
      finalSent = sleep(300).then(() => ctx.reply('226 Transfer complete.'));
      await finalSent;
    },
    ABOR: async (_a, ctx) => { await finalSent; ctx.reply('225 No transfer to abort.'); },
  });
  try {
    const c = await connect(srv);
    const ac = new AbortController();
    let bytes = 0;
    const w = new Writable({ write(ch, _e, cb) { bytes += ch.length; if (bytes === 1000) setTimeout(() => ac.abort(), 50); cb(); } });
    await assert.rejects(c.download('x', w, { signal: ac.signal }), AbortError);
    await assertInStep(c);
    await c.close();
  } finally {
    await srv.close();
  }
});

test('abort during setup (while EPSV is answered) is honoured: no RETR is sent, AbortError, connection usable', async () => {
  const srv = await fakeServer({
    EPSV: async (_a, _ctx, d) => { await sleep(400); await d.EPSV(); },
  });
  try {
    const c = await connect(srv);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 150);
    await assert.rejects(c.download('x', sink(), { signal: ac.signal }), AbortError);
    assert.ok(!srv.commands.some((l) => l.startsWith('RETR')), `commands: ${srv.commands.join('|')}`);
    // A REST is never left behind by an abort: it goes right before its command.
    const ac2 = new AbortController();
    setTimeout(() => ac2.abort(), 150);
    await assert.rejects(c.download('x', sink(), { signal: ac2.signal, offset: 10 }), AbortError);
    assert.ok(!srv.commands.some((l) => l.startsWith('REST')), `commands: ${srv.commands.join('|')}`);
    await assertInStep(c);
    await c.close();
  } finally {
    await srv.close();
  }
});

test('abort between the command and its 150 reply: the 150 is read, then ABOR; AbortError; in step', async () => {
  const srv = await fakeServer({
    RETR: async (_a, ctx) => {
      await sleep(300);
      ctx.reply('150 here it comes');
      const s = await ctx.data();
      // Keep sending until the client goes away, then answer as vsftpd does.
      const chunk = Buffer.alloc(64 * 1024, 66);
      await new Promise((resolve) => {
        const pump = () => { while (!s.destroyed && s.write(chunk)); };
        s.on('drain', pump);
        s.once('close', resolve);
        pump();
      });
      ctx.reply('426 Failure writing network stream.');
    },
    ABOR: (_a, ctx) => ctx.reply('226 ABOR successful.'),
  });
  try {
    const c = await connect(srv);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    await assert.rejects(c.download('x', sink(), { signal: ac.signal }), AbortError);
    await assertInStep(c);
    await c.close();
  } finally {
    await srv.close();
  }
});

test('a data connection that stalls: the idle timeout fails the transfer, ABOR puts the replies back in step', async () => {
  const srv = await fakeServer({
    RETR: async (_a, ctx) => {
      ctx.reply('150 here it comes');
      const s = await ctx.data();
      s.write(Buffer.alloc(5000, 66)); // then nothing, and no close
      ctx.state.stalled = s;
    },
    ABOR: (_a, ctx) => { ctx.state.stalled?.destroy(); ctx.reply('426 Connection closed; transfer aborted.'); ctx.reply('226 ABOR successful.'); },
  });
  try {
    const c = await connect(srv, { timeouts: { dataIdle: 500 } });
    const t = Date.now();
    await assert.rejects(c.download('x', sink()), (err) => err instanceof FtpTimeoutError && /idle/.test(err.message));
    assert.ok(Date.now() - t < 4000);
    await assertInStep(c);
    await c.close();
  } finally {
    await srv.close();
  }
});

test('no final reply after the data: FtpTimeoutError, then the connection is given up (later calls fail fast, never off by one)', async () => {
  const srv = await fakeServer({
    RETR: async (_a, ctx) => {
      ctx.reply('150 here it comes');
      (await ctx.data()).end(ctx.file);
      setTimeout(() => ctx.reply('226 late'), 1500); // after the client's reply timeout
    },
  });
  try {
    const c = await connect(srv, { timeouts: { reply: 500 } });
    await assert.rejects(c.download('x', sink()), FtpTimeoutError);
    await sleep(1500);
    const t = Date.now();
    await assert.rejects(c.send('NOOP'), FtpConnectionError);
    await assert.rejects(c.pwd(), FtpConnectionError);
    assert.ok(Date.now() - t < 200, 'fails at once');
    await c.close();
  } finally {
    await srv.close();
  }
});

test('close() during a transfer aborts it instead of waiting for it', async () => {
  const srv = await fakeServer({
    RETR: async (_a, ctx) => {
      ctx.reply('150 here it comes');
      const s = await ctx.data();
      // A slow, endless download.
      const timer = setInterval(() => { if (!s.destroyed) s.write(Buffer.alloc(1000, 67)); }, 20);
      await new Promise((r) => s.once('close', r));
      clearInterval(timer);
      ctx.reply('426 aborted');
    },
    ABOR: (_a, ctx) => ctx.reply('226 ABOR successful.'),
  });
  try {
    const c = await connect(srv);
    let first;
    const started = new Promise((r) => { first = r; });
    const outcome = (p) => p.then(() => 'resolved', (err) => err);
    const d = outcome(c.download('x', sink(), { onProgress: () => first() }));
    const queued = outcome(c.download('x', sink()));
    await Promise.race([started, sleep(5000)]);
    const t = Date.now();
    await c.close();
    assert.ok(Date.now() - t < 3000, `close took ${Date.now() - t} ms`);
    assert.ok((await d) instanceof AbortError, `the running download: ${await d}`);
    assert.ok((await queued) instanceof AbortError, 'a transfer queued before close() is not started');
    assert.equal(srv.commands.filter((l) => l.startsWith('RETR')).length, 1);
    assert.equal(srv.commands.at(-1), 'QUIT');
  } finally {
    await srv.close();
  }
});

test('calls made without awaiting act in call order (an upload or a watched download before a cd())', async () => {
  const srv = await fakeServer({
    MFMT: (_a, ctx) => ctx.reply('213 modify=19700101000000; f'),
    STOR: async (_a, ctx) => {
      ctx.reply('150 send');
      const s = await ctx.data();
      s.resume();
      await new Promise((r) => s.once('close', r));
      ctx.reply('226 stored');
    },
  });
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-order-'));
  try {
    const local = path.join(tmp, 'up.bin');
    await fs.writeFile(local, Buffer.alloc(3000, 1));
    const c = await connect(srv);
    await Promise.all([c.upload(local, 'up.bin'), c.cd('d1')]);
    await Promise.all([c.download('r.txt', path.join(tmp, 'r.txt'), { onProgress: () => {} }), c.cd('d2')]);
    await Promise.all([c.setLastModified('f', new Date(0)), c.cd('d3')]);
    const seq = srv.commands.filter((l) => /^(STOR|RETR|CWD|SIZE|MFMT)/.test(l));
    assert.deepEqual(seq, ['STOR up.bin', 'CWD d1', 'SIZE r.txt', 'RETR r.txt', 'CWD d2', 'MFMT 19700101000000 f', 'CWD d3']);
    await c.close();
  } finally {
    await srv.close();
    await fs.rm(tmp, { recursive: true, force: true });
  }
});

test('a failed download leaves an existing local file alone and creates none', async () => {
  const srv = await fakeServer({
    RETR: async (arg, ctx, d) => {
      if (arg === 'missing.txt') { ctx.reply('550 No such file'); return; }
      if (arg === 'reset.bin') {
        // Accepted, then the data connection breaks before any byte.
        ctx.reply('150 here it comes');
        (await ctx.data()).destroy();
        ctx.reply('426 Connection closed; transfer aborted.');
        return;
      }
      await d.RETR(arg);
    },
  });
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-dl-'));
  try {
    const c = await connect(srv);
    const precious = path.join(tmp, 'precious.txt');
    await fs.writeFile(precious, 'keep me');
    await assert.rejects(c.download('missing.txt', precious), (err) => err instanceof FtpError && err.code === 550);
    assert.equal(await fs.readFile(precious, 'utf8'), 'keep me');
    const fresh = path.join(tmp, 'fresh.txt');
    await assert.rejects(c.download('missing.txt', fresh), FtpError);
    assert.ok(!existsSync(fresh), 'no empty file left behind');
    await assert.rejects(c.download('reset.bin', fresh), FtpError);
    assert.ok(!existsSync(fresh), 'a file this call created is removed when no byte came');
    // An abort the moment the server accepts: no byte, so no file either.
    const ac = new AbortController();
    const c2 = await connect(srv, { log: (l) => { if (l.startsWith('< 150')) ac.abort(); } });
    await assert.rejects(c2.download('x', fresh, { signal: ac.signal }), AbortError);
    assert.ok(!existsSync(fresh));
    await c2.close();
    // And a good one still works, over the file.
    assert.equal(await c.download('x', precious), 1000);
    assert.equal((await fs.readFile(precious)).length, 1000);
    await assertInStep(c);
    await c.close();
  } finally {
    await srv.close();
    await fs.rm(tmp, { recursive: true, force: true });
  }
});

test('a local failure mid-transfer is the error, not the 426 that echoes it; a server that fails first gives its reason', async () => {
  const srv = await fakeServer({
    RETR: async (_a, ctx) => {
      ctx.reply('150 here it comes');
      const s = await ctx.data();
      // Bytes until the client breaks the data connection, then the 426 that causes (as wharf's server answers).
      const more = () => { while (!s.destroyed && s.write(Buffer.alloc(64 * 1024, 66))); };
      s.on('drain', more);
      more();
      await new Promise((r) => s.once('close', r));
      ctx.reply('426 Connection closed; transfer aborted.');
    },
    STOR: async (_a, ctx) => {
      ctx.reply('150 send');
      const s = await ctx.data();
      await new Promise((r) => s.once('data', r));
      ctx.reply('452 Insufficient storage space');
      s.destroy();
    },
  });
  try {
    const c = await connect(srv);
    const full = new Writable({ write(_c, _e, cb) { cb(new Error('local disk full')); } });
    await assert.rejects(c.download('x', full), (err) => !(err instanceof FtpError) && /local disk full/.test(err.message));
    await assertInStep(c);
    await assert.rejects(c.upload(Readable.from([Buffer.alloc(4 * 1024 * 1024, 1)]), 'up.bin'), (err) => err instanceof FtpError && err.code === 452);
    await assertInStep(c);
    await c.close();
  } finally {
    await srv.close();
  }
});

test('LIST of a relative folder named like an option goes as ./-name', async () => {
  const srv = await fakeServer({
    LIST: async (arg, ctx) => {
      ctx.reply('150 listing');
      (await ctx.data()).end(`-rw-r--r-- 1 u g 5 Jan 01 2024 ${arg === './-dashdir' ? 'inner.txt' : 'wrong.txt'}\r\n`);
      await sleep(20);
      ctx.reply('226 done');
    },
  });
  try {
    const c = await connect(srv);
    assert.deepEqual((await c.list('-dashdir')).map((e) => e.name), ['inner.txt']);
    assert.ok(srv.commands.includes('LIST ./-dashdir'));
    await c.close();
  } finally {
    await srv.close();
  }
});
