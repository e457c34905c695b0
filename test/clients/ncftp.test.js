// NcFTP's batch tools (ncftpls, ncftpget, ncftpput) against wharf: recursive get and put of a tree
// with spaces and UTF-8 in its names, passive and active (PORT), a resumed download, listings.
// ncftp has no IPv6 and no TLS. Its resumed uploads (ncftpput -z) send the whole file after REST
// (with vsftpd too), so they are not tested here.
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
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-ncftp-'));
});
after(async () => {
  await srv.stop();
  await fs.rm(tmp, { recursive: true, force: true });
});

const auth = () => ['-u', USER, '-p', PASSWORD, '-P', String(srv.port), '-t', '20'];
const nc = (tool, args) => run(tool, args, { timeout: 60_000 });

const TREE = {
  'empty.dat': Buffer.alloc(0),
  'small.txt': Buffer.from('hello, ncftp\n'),
  'big.bin': crypto.randomBytes(3 * 1024 * 1024 + 1),
  'dir with space/é ü.bin': crypto.randomBytes(66_000),
  'dir with space/sub/deep.bin': crypto.randomBytes(999),
};

async function writeTree(dir) {
  for (const [rel, data] of Object.entries(TREE)) {
    await fs.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await fs.writeFile(path.join(dir, rel), data);
  }
}
async function assertTree(dir) {
  for (const [rel, data] of Object.entries(TREE)) assert.ok(data.equals(await fs.readFile(path.join(dir, rel))), rel);
}

test('ncftpput -R uploads a tree and ncftpget -R fetches it back, passive and active', async (t) => {
  if (!(await needTool(t, 'ncftpget', 'ncftp'))) return;
  const src = path.join(tmp, 'tree');
  await writeTree(src);
  const up = await nc('ncftpput', [...auth(), '-V', '-R', '-m', '127.0.0.1', '/up', src]);
  assert.equal(up.status, 0, up.stderr);
  await assertTree(path.join(srv.root, 'up', 'tree'));
  for (const [mode, flag] of [['passive', '-F'], ['active', '-E']]) {
    const dest = path.join(tmp, mode);
    await fs.mkdir(dest);
    const down = await nc('ncftpget', [...auth(), '-V', flag, '-R', '127.0.0.1', dest, '/up/tree']);
    assert.equal(down.status, 0, `${mode}: ${down.stderr}`);
    await assertTree(path.join(dest, 'tree'));
  }
});

test('ncftpget resumes a partial download with REST', async (t) => {
  if (!(await needTool(t, 'ncftpget', 'ncftp'))) return;
  const data = crypto.randomBytes(2 * 1024 * 1024 + 9);
  await fs.writeFile(path.join(srv.root, 'resume.bin'), data);
  const dest = path.join(tmp, 'resume');
  await fs.mkdir(dest);
  await fs.writeFile(path.join(dest, 'resume.bin'), data.subarray(0, 1_000_000));
  const log = path.join(tmp, 'resume.log');
  const r = await nc('ncftpget', [...auth(), '-V', '-z', '-d', log, '127.0.0.1', dest, '/resume.bin']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(await fs.readFile(log, 'utf8'), /REST 1000000/, 'resumed rather than fetched again');
  assert.ok(data.equals(await fs.readFile(path.join(dest, 'resume.bin'))));
});

test('ncftpls lists names with spaces and UTF-8, long and short', async (t) => {
  if (!(await needTool(t, 'ncftpget', 'ncftp'))) return;
  await writeTree(path.join(srv.root, 'ls'));
  const url = `ftp://127.0.0.1/ls/${encodeURIComponent('dir with space')}/`;
  const long = await nc('ncftpls', [...auth(), '-l', url]);
  assert.equal(long.status, 0, long.stderr);
  assert.match(long.text, /^-\S+\s+\d+\s+\S+\s+\S+\s+66000 .* é ü\.bin$/m);
  assert.match(long.text, /^d\S+ .* sub$/m);
  const short = await nc('ncftpls', [...auth(), '-1', url]);
  assert.equal(short.status, 0, short.stderr);
  assert.deepEqual(short.text.split('\n').filter(Boolean).sort(), ['sub', 'é ü.bin'].sort());
});
