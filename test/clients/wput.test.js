// wput (wget's counterpart for uploads) against wharf: uploads into new folders, passive and
// active, and the resume of a partial upload (SIZE, then REST + STOR); bytes checked on disk.
// Not over TLS: wput 0.6.2 fails to read the first reply after a TLS 1.3 handshake (the session
// tickets), with vsftpd and ProFTPD too.
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
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-wput-'));
});
after(async () => {
  await srv.stop();
  await fs.rm(tmp, { recursive: true, force: true });
});

// --timeout is in tenths of a second.
const wput = (args) => run('wput', ['--tries=1', '--timeout=200', ...args], { timeout: 60_000 });
const url = (rel) => `ftp://${USER}:${encodeURIComponent(PASSWORD)}@127.0.0.1:${srv.port}/${rel.split('/').map(encodeURIComponent).join('/')}`;

for (const [mode, flags] of [['passive', []], ['active', ['--port-mode']]]) {
  test(`wput uploads empty, small and big files into new folders (${mode})`, async (t) => {
    if (!(await needTool(t, 'wput'))) return;
    for (const [name, size] of [['empty.dat', 0], ['small é.txt', 13], ['big.bin', 3 * 1024 * 1024 + 1]]) {
      const data = crypto.randomBytes(size);
      const local = path.join(tmp, `${mode}-${name}`);
      await fs.writeFile(local, data);
      const rel = `${mode}/new dir/${name}`;
      const r = await wput([...flags, local, url(rel)]);
      assert.equal(r.status, 0, r.text + r.stderr);
      assert.ok(data.equals(await fs.readFile(path.join(srv.root, rel))), rel);
    }
  });
}

test('wput resumes a partial upload (REST + STOR)', async (t) => {
  if (!(await needTool(t, 'wput'))) return;
  const data = crypto.randomBytes(2 * 1024 * 1024 + 3);
  const local = path.join(tmp, 'resume.bin');
  await fs.writeFile(local, data);
  await fs.writeFile(path.join(srv.root, 'resume.bin'), data.subarray(0, 1_500_000));
  const r = await wput([local, url('resume.bin')]);
  assert.equal(r.status, 0, r.text + r.stderr);
  // wput restarts at a whole KiB below the server's size: 1,499,136 here.
  const sent = Number(/Transferred ([\d,]+) bytes/.exec(r.text)?.[1].replaceAll(',', ''));
  assert.ok(sent > 0 && sent < data.length - 1_400_000, `only the rest was sent: ${r.text}`);
  assert.ok(data.equals(await fs.readFile(path.join(srv.root, 'resume.bin'))));
});
