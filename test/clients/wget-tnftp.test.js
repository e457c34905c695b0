// wget (recursive retrieval) and tnftp (the classic interactive ftp client) against wharf.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startServer, USER, PASSWORD } from '../helpers/server.js';
import { run, needTool } from '../helpers/run.js';

let srv, tmp;
before(async () => {
  srv = await startServer();
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-wget-'));
});
after(async () => {
  await srv.stop();
  await fs.rm(tmp, { recursive: true, force: true });
});

test('wget -r fetches a tree byte for byte', async (t) => {
  if (!(await needTool(t, 'wget'))) return;
  const files = { 'site/index.txt': crypto.randomBytes(5000), 'site/a/b/deep.bin': crypto.randomBytes(70_000) };
  for (const [rel, data] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(srv.root, rel)), { recursive: true });
    await fs.writeFile(path.join(srv.root, rel), data);
  }
  const r = await run('wget', ['-q', '-r', '-nH', '-P', tmp, '--timeout=20', '--tries=1', `ftp://${USER}:${encodeURIComponent(PASSWORD)}@127.0.0.1:${srv.port}/site/`]);
  assert.equal(r.status, 0, r.stderr);
  for (const [rel, data] of Object.entries(files)) assert.ok(data.equals(await fs.readFile(path.join(tmp, rel))), rel);
});

test('tnftp: login, cd, ls, get, put, mkdir, delete', async (t) => {
  if (!(await needTool(t, 'tnftp'))) return;
  await fs.mkdir(path.join(srv.root, 'tn'));
  await fs.writeFile(path.join(srv.root, 'tn', 'from-server.txt'), 'server side');
  await fs.writeFile(path.join(tmp, 'local.txt'), 'client side');
  const script = [
    `user ${USER} "${PASSWORD}"`, 'binary', 'cd tn', 'ls',
    `get from-server.txt ${path.join(tmp, 'got.txt')}`, `put ${path.join(tmp, 'local.txt')} put.txt`,
    'mkdir made', 'delete from-server.txt', 'bye', '',
  ].join('\n');
  const r = await run('tnftp', ['-n', '127.0.0.1', String(srv.port)], { input: script, timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.text, /from-server\.txt/);
  assert.equal(await fs.readFile(path.join(tmp, 'got.txt'), 'utf8'), 'server side');
  assert.equal(await fs.readFile(path.join(srv.root, 'tn', 'put.txt'), 'utf8'), 'client side');
  assert.ok((await fs.stat(path.join(srv.root, 'tn', 'made'))).isDirectory());
  await assert.rejects(fs.stat(path.join(srv.root, 'tn', 'from-server.txt')));
});
