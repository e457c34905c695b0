// mirrorDown/mirrorUp and `wharf mirror` against real servers, for what only real servers show:
// LIST times without seconds (vsftpd), an empty remote path after cd(), symbolic links that a
// listing marks or hides (pyftpdlib's MLSD shows a link to a folder as type=dir).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FtpClient, mirrorDown, mirrorUp } from '../../dist/index.js';
import { startPeer, peerNames, PeerUnavailableError, PEER_USER } from '../helpers/peers.js';
import { run } from '../helpers/run.js';

const BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

/** The C servers write as the peer account: what a test puts in their root must be its. */
function chownToPeer(root) {
  spawnSync('chown', ['-R', '-h', `${PEER_USER}:`, root]);
}

/** Every file and folder under `dir`, relative, sorted; links listed as `name@`. */
async function tree(dir) {
  const out = [];
  const walk = async (rel) => {
    for (const e of await fs.readdir(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isSymbolicLink()) out.push(`${r}@`);
      else if (e.isDirectory()) { out.push(`${r}/`); await walk(r); }
      else out.push(r);
    }
  };
  await walk('');
  return out.sort();
}

function peerSuite(name, body, title = name) {
  describe(title, () => {
    const ctx = { skipReason: undefined };
    before(async () => {
      try {
        ctx.peer = await startPeer(name, {});
      } catch (err) {
        if (!(err instanceof PeerUnavailableError) || process.env.CI) throw err;
        ctx.skipReason = err.message;
        return;
      }
      ctx.tmp = await fs.mkdtemp(path.join(os.tmpdir(), `wharf-mirror-${name}-`));
      ctx.connect = () => FtpClient.connect({
        host: ctx.peer.host, port: ctx.peer.port, user: ctx.peer.user, password: ctx.peer.password,
        timeouts: { connect: 10_000, reply: 15_000, dataIdle: 15_000 },
      });
    });
    after(async () => {
      await ctx.peer?.stop();
      if (ctx.tmp) await fs.rm(ctx.tmp, { recursive: true, force: true });
    });
    const it = (title, fn) => test(title, async (t) => {
      if (ctx.skipReason) { t.skip(ctx.skipReason); return; }
      const client = await ctx.connect();
      try { await fn({ ...ctx, client }); } finally { await client.close().catch(() => {}); }
    });
    body(it);
  });
}

for (const name of peerNames) {
  peerSuite(name, (it) => {
    it("an empty remote path is the current folder, after cd(), both ways", async ({ peer, client, connect, tmp }) => {
      await fs.mkdir(path.join(peer.root, 'proj/inner'), { recursive: true });
      await fs.writeFile(path.join(peer.root, 'proj/a.txt'), 'proj a');
      await fs.writeFile(path.join(peer.root, 'proj/inner/b.txt'), 'proj b');
      await fs.mkdir(path.join(peer.root, 'inner'));
      await fs.writeFile(path.join(peer.root, 'a.txt'), 'the top folder, not this one');
      chownToPeer(peer.root);
      await client.cd('proj');
      const more = async () => { const c = await connect(); await c.cd('proj'); return c; };
      const dest = path.join(tmp, 'empty-path');
      const down = await mirrorDown(client, more, '', dest, { parallel: 2 });
      assert.equal(down.transferred, 2);
      assert.deepEqual(await tree(dest), ['a.txt', 'inner/', 'inner/b.txt']);
      assert.equal(await fs.readFile(path.join(dest, 'a.txt'), 'utf8'), 'proj a');
      await fs.writeFile(path.join(dest, 'inner/new.txt'), 'new');
      const up = await mirrorUp(client, more, dest, '', { parallel: 2 });
      assert.equal(up.transferred, 1);
      assert.equal(await fs.readFile(path.join(peer.root, 'proj/inner/new.txt'), 'utf8'), 'new');
      await assert.rejects(fs.stat(path.join(peer.root, 'inner/new.txt')), 'nothing written at the top');
    });

    it('a folder with links to itself, to a sibling and out of the tree: only the real tree is copied', async ({ peer, client, connect, tmp }) => {
      await fs.mkdir(path.join(peer.root, 'outside'));
      await fs.writeFile(path.join(peer.root, 'outside/keep.txt'), 'keep');
      await fs.mkdir(path.join(peer.root, 'loopy/sub'), { recursive: true });
      await fs.writeFile(path.join(peer.root, 'loopy/f.txt'), 'f');
      await fs.writeFile(path.join(peer.root, 'loopy/sub/g.txt'), 'g');
      await fs.symlink('.', path.join(peer.root, 'loopy/self'));
      await fs.symlink('sub', path.join(peer.root, 'loopy/sublink'));
      await fs.symlink('../outside', path.join(peer.root, 'loopy/out'));
      chownToPeer(peer.root);
      const dest = path.join(tmp, 'loopy');
      const r = await mirrorDown(client, connect, 'loopy', dest, { parallel: 2 });
      assert.deepEqual(await tree(dest), ['f.txt', 'sub/', 'sub/g.txt']);
      assert.equal(r.transferred, 2);
      // The command line too: exit 0, the same two files.
      const cliDest = path.join(tmp, 'loopy-cli');
      const url = `ftp://${peer.user}:${peer.password}@127.0.0.1:${peer.port}/loopy`;
      const m = await run(process.execPath, [BIN, 'mirror', url, cliDest], { timeout: 60_000 });
      assert.equal(m.status, 0, m.stderr);
      assert.deepEqual(await tree(cliDest), ['f.txt', 'sub/', 'sub/g.txt']);
    });

    it('mirror --delete upwards removes a folder holding a link without touching what it points to', async ({ peer, client, connect, tmp }) => {
      await fs.mkdir(path.join(peer.root, 'keepout'));
      await fs.writeFile(path.join(peer.root, 'keepout/keep.txt'), 'keep');
      await fs.mkdir(path.join(peer.root, 'site/old'), { recursive: true });
      await fs.writeFile(path.join(peer.root, 'site/old/x.txt'), 'x');
      await fs.symlink('../../keepout', path.join(peer.root, 'site/old/out'));
      chownToPeer(peer.root);
      const src = path.join(tmp, 'delete-src');
      await fs.mkdir(src);
      await fs.writeFile(path.join(src, 'a.txt'), 'a');
      const r = await mirrorUp(client, connect, src, 'site', { delete: true });
      assert.equal(r.transferred, 1);
      assert.equal(await fs.readFile(path.join(peer.root, 'keepout/keep.txt'), 'utf8'), 'keep', 'the link target is untouched');
      assert.deepEqual(await tree(path.join(peer.root, 'site')), ['a.txt']);
    });

    it('mirror upwards does not write through a link to a folder outside the tree', async ({ peer, client, connect, tmp }) => {
      await fs.mkdir(path.join(peer.root, 'elsewhere'));
      await fs.mkdir(path.join(peer.root, 'site2'));
      await fs.symlink('../elsewhere', path.join(peer.root, 'site2/out'));
      chownToPeer(peer.root);
      const src = path.join(tmp, 'through-src');
      await fs.mkdir(path.join(src, 'out'), { recursive: true });
      await fs.writeFile(path.join(src, 'out/new.txt'), 'new');
      await assert.rejects(mirrorUp(client, connect, src, 'site2'), (err) => err.name === 'MirrorError' && /site2\/out is a symbolic link/.test(err.message));
      assert.deepEqual(await fs.readdir(path.join(peer.root, 'elsewhere')), [], 'nothing written through the link');
    });
  });
}

/** Wait, if needed, until the clock is between the 3rd and the 45th second of a minute. */
async function earlyInAMinute() {
  const s = (Date.now() % 60_000) / 1000;
  if (s < 3 || s > 45) await new Promise((r) => setTimeout(r, ((s < 3 ? 3 : 63) - s) * 1000 + 100));
  return Math.floor(Date.now() / 60_000) * 60_000;
}

// vsftpd: LIST only ("Dec 02 14:43", no seconds), MDTM, no MFMT.
peerSuite('vsftpd', (it) => {
  it('mirror --reverse right after a first run sends nothing', async ({ peer, tmp }) => {
    const src = path.join(tmp, 'fresh');
    await fs.mkdir(src);
    for (let i = 0; i < 5; i++) await fs.writeFile(path.join(src, `f${i}.txt`), `file ${i}\n`);
    const url = `ftp://${peer.user}:${peer.password}@127.0.0.1:${peer.port}/site`;
    const first = await run(process.execPath, [BIN, 'mirror', '--reverse', src, url], { timeout: 60_000 });
    assert.equal(first.status, 0, first.stderr);
    assert.equal(first.text.split('\n').filter(Boolean).length, 5);
    const second = await run(process.execPath, [BIN, 'mirror', '--reverse', src, url], { timeout: 60_000 });
    assert.equal(second.status, 0, second.stderr);
    assert.equal(second.text, '', 'files uploaded in the minute they were written count as current');
    assert.match(second.stderr, /0 transferred, 0 resumed, 5 unchanged/);
    // A change made afterwards, in the same minute as the upload, is still sent.
    await fs.writeFile(path.join(src, 'f0.txt'), 'FILE 0\n');
    const future = new Date(Date.now() + 2000);
    await fs.utimes(path.join(src, 'f0.txt'), future, future);
    const third = await run(process.execPath, [BIN, 'mirror', '--reverse', src, url], { timeout: 60_000 });
    assert.equal(third.text, 'transfer f0.txt\n', third.stderr);
    assert.equal(await fs.readFile(path.join(peer.root, 'site/f0.txt'), 'utf8'), 'FILE 0\n');
  });

  it('a same-size change within the listed minute is fetched when mirroring down', async ({ peer, client, connect, tmp }) => {
    const minute = await earlyInAMinute();
    const file = path.join(peer.root, 'minute/f.txt');
    await fs.mkdir(path.dirname(file));
    await fs.writeFile(file, 'AAAA');
    await fs.utimes(file, new Date(minute + 1000), new Date(minute + 1000));
    chownToPeer(peer.root);
    const dest = path.join(tmp, 'minute');
    assert.equal((await mirrorDown(client, connect, 'minute', dest)).transferred, 1);
    await fs.writeFile(file, 'BBBB');
    await fs.utimes(file, new Date(minute + 2000), new Date(minute + 2000));
    const again = await mirrorDown(client, connect, 'minute', dest);
    assert.equal(again.transferred, 1, 'listed as the same minute, but MDTM says a second later');
    assert.equal(await fs.readFile(path.join(dest, 'f.txt'), 'utf8'), 'BBBB');
    const third = await mirrorDown(client, connect, 'minute', dest);
    assert.deepEqual([third.transferred, third.skipped], [0, 1]);
  });
}, 'vsftpd: LIST times to the minute');
