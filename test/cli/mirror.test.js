// mirrorDown/mirrorUp and `wharf mirror` against wharf's own server, which shows a symbolic link
// as what it points to (a folder, with that folder's MLSD `unique`): loops end, depth is bounded.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FtpClient, mirrorDown, mirrorUp } from '../../dist/index.js';
import { run } from '../helpers/run.js';
import { startServer, USER, PASSWORD } from '../helpers/server.js';

const BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

async function files(dir) {
  const out = [];
  const walk = async (rel) => {
    for (const e of await fs.readdir(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(r); else out.push(r);
    }
  };
  await walk('');
  return out.sort();
}

describe('mirror against wharf', () => {
  let srv, work;
  const connect = () => FtpClient.connect({ host: '127.0.0.1', port: srv.port, user: USER, password: PASSWORD, timeouts: { connect: 10_000, reply: 10_000, dataIdle: 10_000 } });
  before(async () => {
    srv = await startServer();
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-cli-mirror-'));
  });
  after(async () => {
    await srv.stop();
    await fs.rm(work, { recursive: true, force: true });
  });

  test('a link back to its own folder, shown as a folder, is not walked again', async () => {
    await fs.mkdir(path.join(srv.root, 'loopy/sub'), { recursive: true });
    await fs.writeFile(path.join(srv.root, 'loopy/f.txt'), 'f');
    await fs.writeFile(path.join(srv.root, 'loopy/sub/g.txt'), 'g');
    await fs.symlink('.', path.join(srv.root, 'loopy/self'));
    await fs.symlink('..', path.join(srv.root, 'loopy/sub/up'));
    const dest = path.join(work, 'loopy');
    const m = await run(process.execPath, [BIN, 'mirror', `${srv.url}/loopy`, dest], { timeout: 60_000 });
    assert.equal(m.status, 0, m.stderr);
    assert.deepEqual(await files(dest), ['f.txt', 'sub/g.txt']);
    assert.equal(m.text.split('\n').filter(Boolean).length, 2);
    // The top folder of the login (an empty path) too.
    const c = await connect();
    try {
      await c.cd('loopy');
      const top = path.join(work, 'loopy-top');
      await mirrorDown(c, async () => { const x = await connect(); await x.cd('loopy'); return x; }, '', top);
      assert.deepEqual(await files(top), ['f.txt', 'sub/g.txt']);
    } finally {
      await c.close();
    }
  });

  test('a tree deeper than maxDepth ends with a MirrorError, both ways, with nothing copied', async () => {
    await fs.mkdir(path.join(srv.root, 'deep/1/2/3/4'), { recursive: true });
    await fs.writeFile(path.join(srv.root, 'deep/1/2/3/4/x.txt'), 'x');
    const c = await connect();
    try {
      const dest = path.join(work, 'deep');
      await assert.rejects(mirrorDown(c, connect, 'deep', dest, { maxDepth: 3 }),
        (err) => err.name === 'MirrorError' && /deep\/1\/2\/3\/4: more than 3 folder levels deep/.test(err.message));
      await assert.rejects(fs.stat(dest), 'nothing written before the walk is done');
      const ok = await mirrorDown(c, connect, 'deep', dest, { maxDepth: 4 });
      assert.equal(ok.transferred, 1);
      await assert.rejects(mirrorUp(c, connect, dest, 'deep', { maxDepth: 2 }), (err) => err.name === 'MirrorError');
    } finally {
      await c.close();
    }
  });
  test('mirrorUp counts the bytes of files uploaded in parallel (none lost between workers)', async () => {
    const src = path.join(work, 'count-up');
    const sizes = [70_000, 90_000, 110_000, 130_000, 150_000, 170_000];
    await fs.mkdir(src, { recursive: true });
    for (const [i, n] of sizes.entries()) await fs.writeFile(path.join(src, `f${i}.bin`), Buffer.alloc(n, i));
    const c = await connect();
    try {
      const up = await mirrorUp(c, connect, src, 'count-up', { parallel: 3 });
      assert.equal(up.transferred, sizes.length);
      assert.equal(up.bytes, sizes.reduce((a, b) => a + b, 0));
      for (const [i, n] of sizes.entries()) assert.equal((await fs.stat(path.join(srv.root, 'count-up', `f${i}.bin`))).size, n);
    } finally {
      await c.close();
    }
  });
});
