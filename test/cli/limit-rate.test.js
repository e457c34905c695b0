// Client bandwidth limits: wharf get/put/mirror --limit-rate and FtpClient's maxRate, bytes checked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../helpers/run.js';
import { startServer, USER, PASSWORD } from '../helpers/server.js';
import { FtpClient } from '../../dist/index.js';

const K = 1024;
const BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const env = { ...process.env, NETRC: '/nonexistent', WHARF_HISTFILE: '/dev/null' };
delete env.WHARF_USER;
delete env.WHARF_PASSWORD;
const wharf = (args) => run(process.execPath, [BIN, ...args], { timeout: 60_000, env });
/** Wall time in seconds; a limit shows as a lower bound (a loaded machine is only slower). */
async function timed(f) {
  const t0 = process.hrtime.bigint();
  const r = await f();
  return { r, s: Number(process.hrtime.bigint() - t0) / 1e9 };
}

test('wharf get, put and mirror keep to --limit-rate; segments and connections share it', async () => {
  const srv = await startServer();
  const local = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-limit-'));
  try {
    const body = crypto.randomBytes(300 * K);
    await fs.writeFile(path.join(srv.root, 'f.bin'), body);
    const get = await timed(() => wharf(['get', '-q', '--limit-rate', '100K', `${srv.url}/f.bin`, path.join(local, 'f.bin')]));
    assert.equal(get.r.status, 0, get.r.stderr);
    assert.ok(body.equals(await fs.readFile(path.join(local, 'f.bin'))));
    assert.ok(get.s >= 2.5, `get at 100K: ${get.s} s for 300 KiB`);
    // 2 MiB in two segments sharing 512K: about 4 s, where each segment at 512K of its own would take 2.
    const big = crypto.randomBytes(2 * K * K);
    await fs.writeFile(path.join(srv.root, 'big.bin'), big);
    const seg = await timed(() => wharf(['get', '-q', '--segments', '2', '--limit-rate', '512K', `${srv.url}/big.bin`, path.join(local, 'big.bin')]));
    assert.equal(seg.r.status, 0, seg.r.stderr);
    assert.ok(big.equals(await fs.readFile(path.join(local, 'big.bin'))));
    assert.ok(seg.s >= 3.3, `two segments sharing 512K: ${seg.s} s for 2 MiB`);
    const up = crypto.randomBytes(192 * K);
    await fs.writeFile(path.join(local, 'up.bin'), up);
    const put = await timed(() => wharf(['put', '-q', '--limit-rate', '64K', path.join(local, 'up.bin'), `${srv.url}/up.bin`]));
    assert.equal(put.r.status, 0, put.r.stderr);
    assert.ok(up.equals(await fs.readFile(path.join(srv.root, 'up.bin'))));
    assert.ok(put.s >= 2.5, `put at 64K: ${put.s} s for 192 KiB`);
    await fs.mkdir(path.join(srv.root, 'tree'));
    const files = [];
    for (let i = 0; i < 4; i++) {
      files.push(crypto.randomBytes(96 * K));
      await fs.writeFile(path.join(srv.root, 'tree', `t${i}.bin`), files[i]);
    }
    const mirror = await timed(() => wharf(['mirror', '-q', '-P', '4', '--limit-rate', '128K', `${srv.url}/tree/`, path.join(local, 'tree')]));
    assert.equal(mirror.r.status, 0, mirror.r.stderr);
    for (let i = 0; i < 4; i++) assert.ok(files[i].equals(await fs.readFile(path.join(local, 'tree', `t${i}.bin`))), `t${i}`);
    assert.ok(mirror.s >= 2.5, `mirror of 384 KiB over 4 connections sharing 128K: ${mirror.s} s`);
    const bad = await wharf(['get', '--limit-rate', 'lots', `${srv.url}/f.bin`, path.join(local, 'x')]);
    assert.equal(bad.status, 2, bad.stderr);
    assert.match(bad.stderr, /--limit-rate/);
  } finally {
    await srv.stop();
    await fs.rm(local, { recursive: true, force: true });
  }
});

test('FtpClient maxRate: download into a file and upload from one, paced and whole', async () => {
  const srv = await startServer();
  const local = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-limit-'));
  const c = await FtpClient.connect({ host: '127.0.0.1', port: srv.port, user: USER, password: PASSWORD });
  try {
    const body = crypto.randomBytes(200 * K);
    await fs.writeFile(path.join(srv.root, 'd.bin'), body);
    const down = await timed(() => c.download('d.bin', path.join(local, 'd.bin'), { maxRate: 64 * K }));
    assert.equal(down.r, body.length);
    assert.ok(body.equals(await fs.readFile(path.join(local, 'd.bin'))));
    assert.ok(down.s >= 2.5, `download at 64K: ${down.s} s for 200 KiB`);
    const upload = await timed(() => c.upload(path.join(local, 'd.bin'), 'u.bin', { maxRate: 64 * K }));
    assert.equal(upload.r, body.length);
    assert.ok(body.equals(await fs.readFile(path.join(srv.root, 'u.bin'))));
    assert.ok(upload.s >= 2.5, `upload at 64K: ${upload.s} s for 200 KiB`);
    // The session goes on after paced transfers.
    assert.deepEqual((await c.list('/')).map((e) => e.name).sort(), ['d.bin', 'u.bin']);
  } finally {
    await c.close();
    await srv.stop();
    await fs.rm(local, { recursive: true, force: true });
  }
});
