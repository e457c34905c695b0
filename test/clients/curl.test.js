// curl against wharf: listings, downloads, uploads, active mode, resume, quote commands, ASCII; bytes on disk.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startServer, USER, PASSWORD } from '../helpers/server.js';
import { run } from '../helpers/run.js';

let srv, base, tmp;
const auth = ['--user', `${USER}:${PASSWORD}`];
const curl = (...args) => run('curl', ['-sS', '--max-time', '60', ...auth, ...args]);

before(async () => {
  srv = await startServer();
  base = `ftp://127.0.0.1:${srv.port}`;
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-curl-'));
});
after(async () => {
  await srv.stop();
  await fs.rm(tmp, { recursive: true, force: true });
});

test('list a folder and NLST names', async () => {
  await fs.mkdir(path.join(srv.root, 'docs'));
  await fs.writeFile(path.join(srv.root, 'docs', 'readme.txt'), 'read me');
  const r = await curl(`${base}/docs/`);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.text, /^-rw-r--r-- .* 7 .* readme\.txt\r?$/m);
  const n = await curl('-l', `${base}/docs/`);
  assert.equal(n.text.trim(), 'readme.txt');
});

test('download and upload are byte-exact, passive (EPSV and PASV) and active', async () => {
  const data = crypto.randomBytes(3 * 1024 * 1024 + 17);
  const local = path.join(tmp, 'data.bin');
  await fs.writeFile(local, data);
  for (const [mode, flags] of [['epsv', []], ['pasv', ['--disable-epsv']], ['port', ['--ftp-port', '127.0.0.1']], ['eprt', ['--ftp-port', '127.0.0.1', '--disable-eprt']]]) {
    const up = await curl(...flags, '-T', local, `${base}/up-${mode}.bin`);
    assert.equal(up.status, 0, `${mode}: ${up.stderr}`);
    assert.ok(data.equals(await fs.readFile(path.join(srv.root, `up-${mode}.bin`))), `${mode} upload on disk`);
    const down = await curl(...flags, `${base}/up-${mode}.bin`);
    assert.equal(down.status, 0, down.stderr);
    assert.ok(data.equals(down.stdout), `${mode} download`);
  }
});

test('resume a download and an upload with -C -', async () => {
  const data = crypto.randomBytes(500_000);
  await fs.writeFile(path.join(srv.root, 'resume.bin'), data);
  const partial = path.join(tmp, 'partial.bin');
  await fs.writeFile(partial, data.subarray(0, 123_456));
  const r = await curl('-C', '-', '-o', partial, `${base}/resume.bin`);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(data.equals(await fs.readFile(partial)));

  await fs.writeFile(path.join(srv.root, 'up-resume.bin'), data.subarray(0, 200_000));
  const full = path.join(tmp, 'full.bin');
  await fs.writeFile(full, data);
  const u = await curl('-C', '-', '-T', full, `${base}/up-resume.bin`);
  assert.equal(u.status, 0, u.stderr);
  assert.ok(data.equals(await fs.readFile(path.join(srv.root, 'up-resume.bin'))));
});

test('quote commands, --ftp-create-dirs and HEAD-style info', async () => {
  const local = path.join(tmp, 'small.txt');
  await fs.writeFile(local, 'small');
  const r = await curl('--ftp-create-dirs', '-T', local, `${base}/a/b/c/small.txt`);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(await fs.readFile(path.join(srv.root, 'a/b/c/small.txt'), 'utf8'), 'small');
  const q = await curl('-Q', 'MKD made', '-Q', 'RNFR a/b/c/small.txt', '-Q', 'RNTO made/moved.txt', `${base}/`);
  assert.equal(q.status, 0, q.stderr);
  assert.equal(await fs.readFile(path.join(srv.root, 'made/moved.txt'), 'utf8'), 'small');
  const head = await curl('-I', `${base}/made/moved.txt`);
  assert.match(head.text, /Content-Length: 5/);
  assert.match(head.text, /Last-Modified: /);
  const del = await curl('-Q', '-DELE made/moved.txt', `${base}/`);
  assert.equal(del.status, 0, del.stderr);
  await assert.rejects(fs.stat(path.join(srv.root, 'made/moved.txt')));
  const bad = await curl('-Q', 'DELE no-such-file', `${base}/`);
  assert.equal(bad.status, 21, 'curl reports the 550 to quote as exit 21');
});

test('ASCII transfers with -B convert line ends; --ftp-method variants work', async () => {
  // curl -B sends CRLF and turns CRLF back into LF on download; the wire form is checked in conformance.test.js.
  const local = path.join(tmp, 'unix.txt');
  await fs.writeFile(local, 'l1\nl2\n');
  const up = await curl('-B', '-T', local, `${base}/ascii.txt`);
  assert.equal(up.status, 0, up.stderr);
  assert.equal(await fs.readFile(path.join(srv.root, 'ascii.txt'), 'utf8'), 'l1\nl2\n');
  const r = await curl('-B', `${base}/ascii.txt`);
  assert.equal(r.text, 'l1\nl2\n');
  const size = await curl('-B', '-I', `${base}/ascii.txt`);
  assert.match(size.text, /Content-Length: 8/, 'SIZE in TYPE A counts the CRLF form');
  for (const method of ['multicwd', 'nocwd', 'singlecwd']) {
    const m = await curl('--ftp-method', method, `${base}/a/b/c/`);
    assert.equal(m.status, 0, `${method}: ${m.stderr}`);
  }
});

test('wrong password fails with curl exit 67 and nothing is written', async () => {
  const r = await run('curl', ['-sS', '--max-time', '20', '--user', `${USER}:nope`, '-T', path.join(tmp, 'small.txt'), `${base}/x.txt`]);
  assert.equal(r.status, 67);
  await assert.rejects(fs.stat(path.join(srv.root, 'x.txt')));
});
