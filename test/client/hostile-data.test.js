// Data connections against a hostile network: in active mode (PORT) the client's listening port is
// announced in clear text, and a third host that connects first must get nothing (upload) and give
// nothing (download). Everything on 127.0.0.x, every socket and wait bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { FtpClient, FtpTimeoutError } from '../../dist/index.js';
import { fakeServer, RFC959 } from '../helpers/fake-server.js';

const connect = (srv, connectMs = 3000) => FtpClient.connect({
  host: '127.0.0.1', port: srv.port, user: 'u', password: 'p', passive: false,
  timeouts: { connect: connectMs, reply: 5000, dataIdle: 5000 },
});

/** Parse a PORT argument h1,h2,h3,h4,p1,p2. */
function parsePort(arg) {
  const n = arg.split(',').map(Number);
  return { host: n.slice(0, 4).join('.'), port: n[4] * 256 + n[5] };
}

/** Connect to the client's PORT listener from 127.0.0.2; resolves once that connection has closed. */
function thief(target, onData = () => {}, payload) {
  return new Promise((resolve) => {
    const s = net.connect({ ...target, localAddress: '127.0.0.2' });
    s.setTimeout(5000, () => s.destroy());
    s.on('error', () => {});
    s.on('data', onData);
    if (payload) s.on('connect', () => s.write(payload));
    s.on('close', resolve);
  });
}

/** The real server's data connection, from 127.0.0.1. */
function honest(target) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ ...target, localAddress: '127.0.0.1' });
    s.setTimeout(5000, () => s.destroy());
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

test('active mode: a data connection from another address than the server is refused (upload goes to the server)', async () => {
  let stolen = Buffer.alloc(0);
  let received = Buffer.alloc(0);
  const srv = await fakeServer({
    ...RFC959,
    PORT: (arg, ctx) => { ctx.state.port = parsePort(arg); return '200 ok'; },
    STOR: async (_a, ctx) => {
      // The accomplice connects first; the server only after that connection is gone.
      await thief(ctx.state.port, (d) => { stolen = Buffer.concat([stolen, d]); });
      const d = await honest(ctx.state.port);
      ctx.reply('150 go ahead');
      d.on('data', (c) => { received = Buffer.concat([received, c]); });
      d.on('end', () => { d.end(); ctx.reply('226 stored'); });
    },
  });
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-hostile-'));
  try {
    const file = path.join(dir, 'secret.txt');
    await fs.writeFile(file, 'TOP SECRET PAYROLL DATA\n');
    const c = await connect(srv);
    try {
      assert.equal(await c.upload(file, 'secret.txt'), 24);
    } finally {
      await c.close();
    }
    assert.equal(stolen.length, 0, `the third address received ${JSON.stringify(stolen.toString())}`);
    assert.equal(received.toString(), 'TOP SECRET PAYROLL DATA\n');
  } finally {
    await srv.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('active mode: data from another address than the server is not taken for the download', async () => {
  const srv = await fakeServer({
    ...RFC959,
    PORT: (arg, ctx) => { ctx.state.port = parsePort(arg); return '200 ok'; },
    RETR: async (_a, ctx) => {
      await thief(ctx.state.port, () => {}, 'attacker-controlled content\n');
      const d = await honest(ctx.state.port);
      ctx.reply('150 go');
      d.end('the real content\n', () => setTimeout(() => ctx.reply('226 done'), 20));
    },
  });
  try {
    const c = await connect(srv);
    let got = '';
    try {
      await c.download('x.txt', new Writable({ write(ch, _e, cb) { got += ch; cb(); } }));
    } finally {
      await c.close();
    }
    assert.equal(got, 'the real content\n');
  } finally {
    await srv.close();
  }
});

test('active mode: when only a third address connects, the transfer times out and nothing is sent to it', async () => {
  let stolen = 0;
  const srv = await fakeServer({
    ...RFC959,
    PORT: (arg, ctx) => { ctx.state.port = parsePort(arg); return '200 ok'; },
    STOR: async (_a, ctx) => {
      ctx.reply('150 go ahead');
      await thief(ctx.state.port, (d) => { stolen += d.length; });
      ctx.state.stor = true;
    },
    ABOR: () => '226 abort ok',
  });
  try {
    const c = await connect(srv, 1500);
    try {
      const started = Date.now();
      await assert.rejects(c.upload(Readable.from([Buffer.from('secret')]), 'y.txt'),
        (err) => err instanceof FtpTimeoutError && /another address/.test(err.message));
      assert.ok(Date.now() - started < 10_000);
    } finally {
      await c.close().catch(() => undefined);
    }
    assert.equal(stolen, 0);
  } finally {
    await srv.close();
  }
});
