// aria2 (aria2c) against wharf: small and empty files, a segmented download over four connections
// (REST offsets), active mode, IPv6, resume; every file compared byte for byte.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startServer, USER, PASSWORD } from '../helpers/server.js';
import { run, needTool } from '../helpers/run.js';

let srv, srv6, tmp;
const files = {
  'empty.bin': Buffer.alloc(0),
  'six.txt': Buffer.from('hello\n'),
  'small.bin': crypto.randomBytes(5000),
  'edge.bin': crypto.randomBytes(64 * 1024),
  'big.bin': crypto.randomBytes(3 * 1024 * 1024 + 3),
  'dir with space/é ü.bin': crypto.randomBytes(777),
};

before(async () => {
  srv = await startServer();
  srv6 = await startServer({ host: '::1' });
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-aria2-'));
  for (const root of [srv.root, srv6.root]) {
    for (const [rel, data] of Object.entries(files)) {
      await fs.mkdir(path.dirname(path.join(root, rel)), { recursive: true });
      await fs.writeFile(path.join(root, rel), data);
    }
  }
});
after(async () => {
  await srv?.stop();
  await srv6?.stop();
  await fs.rm(tmp, { recursive: true, force: true });
});

/**
 * aria2c with a 10 s network timeout. It waits for each 226 until that timeout and then still
 * reports success, so a reply it missed shows only as time: each run must finish well within it.
 */
async function aria2(args, dir) {
  const started = Date.now();
  const r = await run('aria2c', ['--timeout=10', '--max-tries=1', '--console-log-level=warn', '--summary-interval=0',
    '--allow-overwrite=true', '--auto-file-renaming=false', `--ftp-user=${USER}`, `--ftp-passwd=${PASSWORD}`, '-d', dir, ...args],
  { timeout: 60_000 });
  return { ...r, ms: Date.now() - started };
}

const url = (port, rel, host = '127.0.0.1') => `ftp://${host}:${port}/${rel.split('/').map(encodeURIComponent).join('/')}`;

for (const mode of ['passive', 'active']) {
  test(`aria2c downloads empty, small and big files byte for byte, without waiting out its timeout (${mode})`, async (t) => {
    if (!(await needTool(t, 'aria2c'))) return;
    const dir = path.join(tmp, mode);
    for (const [rel, data] of Object.entries(files)) {
      const r = await aria2([`--ftp-pasv=${mode === 'passive'}`, '-o', path.basename(rel), url(srv.port, rel)], dir);
      assert.equal(r.status, 0, `${rel}: ${r.stdout}${r.stderr}`);
      assert.ok(r.ms < 5000, `${rel} took ${r.ms} ms: aria2 waited for a reply it already had`);
      assert.ok(data.equals(await fs.readFile(path.join(dir, path.basename(rel)))), rel);
    }
  });
}

test('aria2c segmented download: four connections with REST offsets, and a resume', async (t) => {
  if (!(await needTool(t, 'aria2c'))) return;
  const dir = path.join(tmp, 'segments');
  const big = files['big.bin'];
  const r = await aria2(['-x4', '-s4', '-k1M', url(srv.port, 'big.bin')], dir);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.ok(r.ms < 5000, `took ${r.ms} ms`);
  assert.ok(big.equals(await fs.readFile(path.join(dir, 'big.bin'))));
  // -c continues a partial file with REST; the last 3 bytes come as a small transfer of their own.
  await fs.writeFile(path.join(dir, 'big.bin'), big.subarray(0, big.length - 3));
  const c = await aria2(['-c', url(srv.port, 'big.bin')], dir);
  assert.equal(c.status, 0, c.stdout + c.stderr);
  assert.ok(c.ms < 5000, `took ${c.ms} ms`);
  assert.ok(big.equals(await fs.readFile(path.join(dir, 'big.bin'))));
});

test('aria2c over IPv6 (::1)', async (t) => {
  if (!(await needTool(t, 'aria2c'))) return;
  const dir = path.join(tmp, 'v6');
  for (const rel of ['small.bin', 'dir with space/é ü.bin']) {
    const r = await aria2(['-o', path.basename(rel), url(srv6.port, rel, '[::1]')], dir);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.ok(r.ms < 5000, `took ${r.ms} ms`);
    assert.ok(files[rel].equals(await fs.readFile(path.join(dir, path.basename(rel)))), rel);
  }
});
