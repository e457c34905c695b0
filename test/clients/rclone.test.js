// rclone's FTP backend against wharf: sync up and down (plain, explicit and implicit FTPS, and with
// MLSD and EPSV turned off), modification times set with MFMT and compared through MLSD/MDTM,
// REST reads, moves, deletes and folders, IPv6; bytes and times checked on disk.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { selfSignedCertificate } from '../../dist/server/certificates.js';
import { startServer, USER, PASSWORD } from '../helpers/server.js';
import { run, have, needTool } from '../helpers/run.js';

let srv, srv6, tmp, obscured, env;

before(async () => {
  srv = await startServer({ tls: await selfSignedCertificate(), implicitTlsPort: 0 });
  srv6 = await startServer({ host: '::1' });
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-rclone-'));
  if (!(await have('rclone'))) return;
  const config = path.join(tmp, 'rclone.conf');
  await fs.writeFile(config, '');
  env = { ...process.env, RCLONE_CONFIG: config };
  const o = await run('rclone', ['obscure', PASSWORD], { env, timeout: 20_000 });
  obscured = o.text.trim();
});
after(async () => {
  await srv?.stop();
  await srv6?.stop();
  await fs.rm(tmp, { recursive: true, force: true });
});

/** rclone against `:ftp:` with the backend's options as environment variables (no config file). */
function rclone(args, options = {}, { host = '127.0.0.1', port = srv.port } = {}) {
  const ftp = { host, port: String(port), user: USER, pass: obscured, ...options };
  const e = { ...env };
  for (const [k, v] of Object.entries(ftp)) e[`RCLONE_FTP_${k.toUpperCase()}`] = v;
  return run('rclone', ['--contimeout', '10s', '--timeout', '20s', '--retries', '1', '--low-level-retries', '1', ...args],
    { env: e, timeout: 60_000 });
}

const TREE = {
  'empty.dat': Buffer.alloc(0),
  'small.txt': Buffer.from('hello, rclone\n'),
  'big.bin': crypto.randomBytes(3 * 1024 * 1024 + 5),
  'dir with space/é ü 日本.bin': crypto.randomBytes(70_000),
  'a/b/deep.bin': crypto.randomBytes(4097),
};
// Distinct whole-second times in the past, so a sync that loses them is seen.
const mtimeOf = (i) => new Date(Date.UTC(2021, 0, 2, 3, 4, 5 + i));

async function makeTree(dir) {
  let i = 0;
  for (const [rel, data] of Object.entries(TREE)) {
    const file = path.join(dir, rel);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, data);
    const t = mtimeOf(i++);
    await fs.utimes(file, t, t);
  }
}

async function assertTree(dir, { times = true } = {}) {
  let i = 0;
  for (const [rel, data] of Object.entries(TREE)) {
    const file = path.join(dir, rel);
    assert.ok(data.equals(await fs.readFile(file)), `${rel}: bytes`);
    if (times) assert.equal((await fs.stat(file)).mtime.getTime(), mtimeOf(i).getTime(), `${rel}: modification time`);
    i++;
  }
}

const copied = (r) => (r.stderr.match(/: Copied \(/g) ?? []).length;

const MODES = {
  plain: {},
  'explicit FTPS': { explicit_tls: 'true', no_check_certificate: 'true' },
  'implicit FTPS': { tls: 'true', no_check_certificate: 'true' },
  'LIST and PASV (MLSD and EPSV off)': { disable_mlsd: 'true', disable_epsv: 'true' },
};

for (const [mode, options] of Object.entries(MODES)) {
  test(`rclone sync up and down, times kept, nothing copied twice (${mode})`, async (t) => {
    if (!(await needTool(t, 'rclone'))) return;
    const where = mode === 'implicit FTPS' ? { port: srv.implicitTlsPort } : {};
    const slug = mode.replace(/\W+/g, '-');
    const src = path.join(tmp, `src-${slug}`);
    await makeTree(src);
    const up = await rclone(['sync', '-v', src, `:ftp:/${slug}`], options, where);
    assert.equal(up.status, 0, up.stderr);
    assert.equal(copied(up), Object.keys(TREE).length, up.stderr);
    // MFMT set each file's time on the server, to the second.
    await assertTree(path.join(srv.root, slug));

    const again = await rclone(['sync', '-v', src, `:ftp:/${slug}`], options, where);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(copied(again), 0, `a second sync up copies nothing: ${again.stderr}`);
    const check = await rclone(['check', src, `:ftp:/${slug}`], options, where);
    assert.equal(check.status, 0, check.stderr);

    const dest = path.join(tmp, `dest-${slug}`);
    const down = await rclone(['sync', '-v', `:ftp:/${slug}`, dest], options, where);
    assert.equal(down.status, 0, down.stderr);
    await assertTree(dest);
    const down2 = await rclone(['sync', '-v', `:ftp:/${slug}`, dest], options, where);
    assert.equal(copied(down2), 0, `a second sync down copies nothing: ${down2.stderr}`);

    // Changed on the server (same size, new bytes, later time): the next sync down takes it.
    const changed = crypto.randomBytes(TREE['small.txt'].length);
    await fs.writeFile(path.join(srv.root, slug, 'small.txt'), changed);
    const down3 = await rclone(['sync', '-v', `:ftp:/${slug}`, dest], options, where);
    assert.equal(down3.status, 0, down3.stderr);
    assert.equal(copied(down3), 1, down3.stderr);
    assert.ok(changed.equals(await fs.readFile(path.join(dest, 'small.txt'))));
  });
}

test('rclone lsjson reads sizes, folders, UTF-8 names and times from MLSD', async (t) => {
  if (!(await needTool(t, 'rclone'))) return;
  const dir = path.join(srv.root, 'ls');
  await makeTree(dir);
  const r = await rclone(['lsjson', '-R', ':ftp:/ls']);
  assert.equal(r.status, 0, r.stderr);
  const entries = new Map(JSON.parse(r.text).map((e) => [e.Path, e]));
  let i = 0;
  for (const [rel, data] of Object.entries(TREE)) {
    const e = entries.get(rel);
    assert.ok(e, `${rel} listed`);
    assert.equal(e.Size, data.length, rel);
    assert.equal(Date.parse(e.ModTime), mtimeOf(i++).getTime(), rel);
  }
  assert.equal(entries.get('dir with space').IsDir, true);
  assert.equal(entries.get('a/b').IsDir, true);
});

test('rclone cat with offsets (REST), moveto, deletefile, mkdir, rmdir, purge, touch', async (t) => {
  if (!(await needTool(t, 'rclone'))) return;
  const data = crypto.randomBytes(2 * 1024 * 1024 + 11);
  await fs.mkdir(path.join(srv.root, 'ops'));
  await fs.writeFile(path.join(srv.root, 'ops', 'data.bin'), data);
  const part = await rclone(['cat', '--offset', '1000000', '--count', '4096', ':ftp:/ops/data.bin']);
  assert.equal(part.status, 0, part.stderr);
  assert.ok(part.stdout.equals(data.subarray(1_000_000, 1_000_000 + 4096)));
  const tail = await rclone(['cat', '--offset', String(data.length - 7), ':ftp:/ops/data.bin']);
  assert.ok(tail.stdout.equals(data.subarray(data.length - 7)));

  for (const args of [['moveto', ':ftp:/ops/data.bin', ':ftp:/ops/moved é.bin'], ['mkdir', ':ftp:/ops/x/y z'],
    ['touch', '-t', '2020-02-03T04:05:06', ':ftp:/ops/moved é.bin']]) {
    const r = await rclone(args);
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
  }
  await assert.rejects(fs.stat(path.join(srv.root, 'ops', 'data.bin')));
  assert.ok(data.equals(await fs.readFile(path.join(srv.root, 'ops', 'moved é.bin'))));
  assert.equal((await fs.stat(path.join(srv.root, 'ops', 'moved é.bin'))).mtime.toISOString(), '2020-02-03T04:05:06.000Z');
  assert.ok((await fs.stat(path.join(srv.root, 'ops', 'x', 'y z'))).isDirectory());

  for (const args of [['rmdir', ':ftp:/ops/x/y z'], ['deletefile', ':ftp:/ops/moved é.bin']]) {
    const r = await rclone(args);
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
  }
  await assert.rejects(fs.stat(path.join(srv.root, 'ops', 'x', 'y z')));
  await assert.rejects(fs.stat(path.join(srv.root, 'ops', 'moved é.bin')));
  const purge = await rclone(['purge', ':ftp:/ops']);
  assert.equal(purge.status, 0, purge.stderr);
  await assert.rejects(fs.stat(path.join(srv.root, 'ops')));
});

test('rclone over IPv6 (::1): copy up and down', async (t) => {
  if (!(await needTool(t, 'rclone'))) return;
  const src = path.join(tmp, 'src6');
  await makeTree(src);
  // rclone 1.60 dials "::1:port" unbracketed and fails; the bracketed host works.
  const where = { host: '[::1]', port: srv6.port };
  const up = await rclone(['copy', src, ':ftp:/six'], {}, where);
  assert.equal(up.status, 0, up.stderr);
  await assertTree(path.join(srv6.root, 'six'));
  const dest = path.join(tmp, 'dest6');
  const down = await rclone(['copy', ':ftp:/six', dest], {}, where);
  assert.equal(down.status, 0, down.stderr);
  await assertTree(dest);
});
