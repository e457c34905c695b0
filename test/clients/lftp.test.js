// lftp against wharf: mirror down and up (mirror -R), ls, put/get, rm; the tree compared byte for byte.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startServer, USER, PASSWORD } from '../helpers/server.js';
import { run } from '../helpers/run.js';

let srv, tmp;
before(async () => {
  srv = await startServer();
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-lftp-'));
});
after(async () => {
  await srv.stop();
  await fs.rm(tmp, { recursive: true, force: true });
});

function lftp(script, extra = '') {
  const settings = 'set net:max-retries 1; set net:timeout 20; set cmd:fail-exit yes; set ftp:ssl-allow no; ' + extra;
  return run('lftp', ['-u', `${USER},${PASSWORD}`, '-p', String(srv.port), '-e', `${settings}; ${script}; bye`, '127.0.0.1'], { timeout: 120_000 });
}

async function makeTree(dir) {
  const files = {};
  for (const rel of ['a.txt', 'sub/b.bin', 'sub/deeper/c.bin', 'space name/d é.txt', 'empty.dat']) {
    const data = rel === 'empty.dat' ? Buffer.alloc(0) : crypto.randomBytes(1000 + rel.length * 9973);
    await fs.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await fs.writeFile(path.join(dir, rel), data);
    files[rel] = data;
  }
  return files;
}

async function assertTree(dir, files) {
  for (const [rel, data] of Object.entries(files)) {
    assert.ok(data.equals(await fs.readFile(path.join(dir, rel))), `${rel} matches`);
  }
}

test('mirror -R uploads a tree and mirror downloads it back, byte for byte', async () => {
  const src = path.join(tmp, 'src');
  const files = await makeTree(src);
  const up = await lftp(`mirror -R ${JSON.stringify(src)} /tree`);
  assert.equal(up.status, 0, up.stderr);
  await assertTree(path.join(srv.root, 'tree'), files);
  const dest = path.join(tmp, 'dest');
  const down = await lftp(`mirror /tree ${JSON.stringify(dest)}`);
  assert.equal(down.status, 0, down.stderr);
  await assertTree(dest, files);
});

test('mirror works in active mode and with MLSD turned off (LIST parsing)', async () => {
  const dest = path.join(tmp, 'dest-active');
  const r = await lftp(`mirror /tree ${JSON.stringify(dest)}`, 'set ftp:passive-mode off; set ftp:use-mlsd off');
  assert.equal(r.status, 0, r.stderr);
  assert.ok((await fs.readFile(path.join(dest, 'sub/deeper/c.bin'))).equals(await fs.readFile(path.join(srv.root, 'tree/sub/deeper/c.bin'))));
});

test('put, get, ls, mkdir, mv, rm through lftp commands', async () => {
  const local = path.join(tmp, 'one.bin');
  const data = crypto.randomBytes(200_000);
  await fs.writeFile(local, data);
  const r = await lftp(`mkdir -p x/y; put ${local} -o x/y/one.bin; mv x/y/one.bin x/two.bin; ls x; get x/two.bin -o ${path.join(tmp, 'back.bin')}`);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.text, /two\.bin/);
  assert.ok(data.equals(await fs.readFile(path.join(srv.root, 'x/two.bin'))));
  assert.ok(data.equals(await fs.readFile(path.join(tmp, 'back.bin'))));
  const rm = await lftp('rm x/two.bin; rmdir x/y');
  assert.equal(rm.status, 0, rm.stderr);
  await assert.rejects(fs.stat(path.join(srv.root, 'x/two.bin')));
  await assert.rejects(fs.stat(path.join(srv.root, 'x/y')));
});
