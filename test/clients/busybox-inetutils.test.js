// BusyBox's ftpget/ftpput (what embedded devices and cameras run) and GNU inetutils' ftp (the
// interactive client) against wharf, IPv4 and IPv6, passive and active; bytes checked on disk.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startServer, USER, PASSWORD } from '../helpers/server.js';
import { run, needTool } from '../helpers/run.js';

let srv, srv6, tmp;
before(async () => {
  srv = await startServer();
  srv6 = await startServer({ host: '::1' });
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-bb-'));
});
after(async () => {
  await srv.stop();
  await srv6.stop();
  await fs.rm(tmp, { recursive: true, force: true });
});

const FILES = {
  'empty.dat': Buffer.alloc(0),
  'small.txt': Buffer.from('hello\n'),
  'big.bin': crypto.randomBytes(3 * 1024 * 1024 + 7),
  'dir with space/é ü.bin': crypto.randomBytes(70_001),
};

for (const [family, host] of [['IPv4', '127.0.0.1'], ['IPv6', '::1']]) {
  test(`busybox ftpget and ftpput: empty, small and big files, names with spaces and UTF-8 (${family})`, async (t) => {
    if (!(await needTool(t, 'busybox'))) return;
    const s = host === '::1' ? srv6 : srv;
    // ftpget HOST LOCAL REMOTE, ftpput HOST REMOTE LOCAL.
    const bb = (applet, local, remote) => run('busybox', [applet, '-u', USER, '-p', PASSWORD, '-P', String(s.port), host,
      ...(applet === 'ftpget' ? [local, remote] : [remote, local])], { timeout: 60_000 });
    const dir = path.join(tmp, family);
    for (const [rel, data] of Object.entries(FILES)) {
      const src = path.join(dir, 'src', path.basename(rel));
      await fs.mkdir(path.dirname(src), { recursive: true });
      await fs.writeFile(src, data);
      await fs.mkdir(path.dirname(path.join(s.root, rel)), { recursive: true });
      const up = await bb('ftpput', src, rel);
      assert.equal(up.status, 0, `${rel}: ${up.stderr}`);
      assert.ok(data.equals(await fs.readFile(path.join(s.root, rel))), `${rel} uploaded`);
      const got = path.join(dir, 'got-' + path.basename(rel));
      const down = await bb('ftpget', got, rel);
      assert.equal(down.status, 0, `${rel}: ${down.stderr}`);
      assert.ok(data.equals(await fs.readFile(got)), `${rel} downloaded`);
    }
  });
}

test('busybox ftpget -c resumes a partial file (SIZE, REST)', async (t) => {
  if (!(await needTool(t, 'busybox'))) return;
  const data = crypto.randomBytes(2 * 1024 * 1024 + 1);
  await fs.writeFile(path.join(srv.root, 'resume.bin'), data);
  const local = path.join(tmp, 'resume.bin');
  await fs.writeFile(local, data.subarray(0, 777_777));
  const r = await run('busybox', ['ftpget', '-v', '-c', '-u', USER, '-p', PASSWORD, '-P', String(srv.port), '127.0.0.1', local, 'resume.bin'], { timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /REST 777777/);
  assert.ok(data.equals(await fs.readFile(local)));
});

/** inetutils' ftp reading commands from stdin; its verbose output is the conversation. */
function inetutilsFtp(args, lines, cwd) {
  return run('inetutils-ftp', ['-n', '-v', ...args], { input: lines.join('\n') + '\n', timeout: 60_000, cwd });
}

for (const [mode, args, s] of [['passive, IPv4', ['-p'], () => srv], ['active (EPRT), IPv6', ['-A', '-6'], () => srv6]]) {
  test(`inetutils ftp: ls, get, reget, put, mkdir, rename, delete, rmdir, modtime (${mode})`, async (t) => {
    if (!(await needTool(t, 'inetutils-ftp'))) return;
    const server = s();
    const host = server === srv6 ? '::1' : '127.0.0.1';
    const dir = await fs.mkdtemp(path.join(tmp, 'inet-'));
    const big = crypto.randomBytes(3 * 1024 * 1024 + 3);
    const up = crypto.randomBytes(1024 * 1024 + 5);
    await fs.mkdir(path.join(server.root, 'in dir'), { recursive: true });
    await fs.writeFile(path.join(server.root, 'in dir', 'fé.bin'), big);
    await fs.writeFile(path.join(server.root, 'empty.dat'), '');
    const mtime = new Date('2022-05-06T07:08:09Z');
    await fs.utimes(path.join(server.root, 'in dir', 'fé.bin'), mtime, mtime);
    await fs.writeFile(path.join(dir, 'part.bin'), big.subarray(0, 100_000));
    await fs.writeFile(path.join(dir, 'up.bin'), up);
    const r = await inetutilsFtp([...args, host, String(server.port)], [
      `user ${USER} "${PASSWORD}"`, 'binary', 'ls', 'cd "in dir"', 'ls',
      'get "fé.bin" whole.bin', 'reget "fé.bin" part.bin', 'modtime "fé.bin"', 'cd /',
      'get empty.dat empty.dat', 'put up.bin "new up.bin"', 'mkdir "made dir"',
      'rename "new up.bin" "made dir/moved ü.bin"', 'ls "made dir"', 'delete empty.dat', 'bye',
    ], dir);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.text, /^[45]\d\d /m, 'no command refused');
    assert.match(r.text, /^d\S+ .* in dir$/m);
    assert.match(r.text, /^-\S+ .* fé\.bin$/m);
    assert.match(r.text, /^-\S+ .* moved ü\.bin$/m);
    assert.match(r.text, /350 Restarting at 100000/);
    assert.match(r.text, /fé\.bin\s+05\/06\/2022 07:08:09 GMT/);
    assert.ok(big.equals(await fs.readFile(path.join(dir, 'whole.bin'))));
    assert.ok(big.equals(await fs.readFile(path.join(dir, 'part.bin'))), 'reget completed the partial file');
    assert.equal((await fs.readFile(path.join(dir, 'empty.dat'))).length, 0);
    assert.ok(up.equals(await fs.readFile(path.join(server.root, 'made dir', 'moved ü.bin'))));
    await assert.rejects(fs.stat(path.join(server.root, 'empty.dat')));
    const rm = await inetutilsFtp([...args, host, String(server.port)], [
      `user ${USER} "${PASSWORD}"`, 'delete "made dir/moved ü.bin"', 'rmdir "made dir"', 'bye']);
    assert.equal(rm.status, 0, rm.stderr);
    assert.doesNotMatch(rm.text, /^[45]\d\d /m);
    await assert.rejects(fs.stat(path.join(server.root, 'made dir')));
  });
}
