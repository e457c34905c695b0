// wharf serve on SIGHUP: the config file's address lists, limits and session caps change while running; the rest waits for a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { run } from '../helpers/run.js';
import { serve, exited } from '../helpers/serve-cli.js';
import { firstLine } from '../helpers/raw-client.js';

/** Until stderr has `count` lines matching `pattern` (bounded: 10 s). */
async function logged(s, pattern, count = 1) {
  for (let i = 0; i < 200; i++) {
    if ((s.err().match(new RegExp(pattern.source, 'g')) ?? []).length >= count) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`no '${pattern}' in the log: ${s.err()}`);
}

test('SIGHUP reloads the config file: deny and allow lists, rates at once; other changes are logged for a restart; a bad file changes nothing', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-reload-'));
  const config = path.join(dir, 'wharf.yaml');
  const body = crypto.randomBytes(192 * 1024);
  await fs.mkdir(path.join(dir, 'root'));
  await fs.writeFile(path.join(dir, 'root', 'f.bin'), body);
  await fs.writeFile(config, 'root: root\nallow-from: [127.0.0.1]\n');
  const s = await serve(['--config', config, '--user', 'u:p', '--log-format', 'json'], dir);
  const url = `ftp://u:p@127.0.0.1:${s.port}/f.bin`;
  const get = () => run('curl', ['-sS', '--max-time', '30', '-o', path.join(dir, 'got.bin'), url]);
  try {
    assert.equal((await get()).status, 0);
    // Denied from now on: a new connection gets 421 before any command.
    await fs.writeFile(config, 'root: root\ndeny-from: [127.0.0.0/8]\n');
    s.proc.kill('SIGHUP');
    await logged(s, /config file reloaded/);
    assert.match(await firstLine(s.port), /^421 /, 'denied address after the reload');
    // Allowed again, now with a download limit; atomic uploads wait for a restart.
    await fs.writeFile(config, 'root: root\natomic-uploads: true\nmax-download-rate: 64K\n');
    s.proc.kill('SIGHUP');
    await logged(s, /config file reloaded/, 2);
    await logged(s, /atomic-uploads.*take effect on restart/);
    const t0 = Date.now();
    assert.equal((await get()).status, 0);
    assert.ok(body.equals(await fs.readFile(path.join(dir, 'got.bin'))));
    assert.ok(Date.now() - t0 >= 2500, `192 KiB at 64K after the reload took ${Date.now() - t0} ms`);
    // A file that does not check out is refused whole: the running settings stay.
    await fs.writeFile(config, 'root: root\nallow-from: [not-an-address]\n');
    s.proc.kill('SIGHUP');
    await logged(s, /config file not reloaded/);
    assert.match(s.err(), /--allow-from|allow-from/);
    const t1 = Date.now();
    assert.equal((await get()).status, 0);
    assert.ok(Date.now() - t1 >= 2500, 'the 64K limit still holds');
  } finally {
    s.proc.kill('SIGINT');
    assert.equal(await exited(s.proc), 0);
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('SIGHUP: a certificate key moved into a home the users file gives is refused, as at start', async () => {
  const { execFileSync } = await import('node:child_process');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-reload-'));
  const config = path.join(dir, 'wharf.yaml');
  try {
    await fs.mkdir(path.join(dir, 'root'));
    await fs.mkdir(path.join(dir, 'carol'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'k.pem', '-out', 'c.pem', '-days', '2', '-subj', '/CN=localhost'],
      { cwd: dir, stdio: ['ignore', 'pipe', 'ignore'] });
    await fs.copyFile(path.join(dir, 'k.pem'), path.join(dir, 'carol', 'k.pem'));
    const hash = 'scrypt$16384$8$1$c2FsdA==$' + Buffer.alloc(32, 1).toString('base64');
    await fs.writeFile(path.join(dir, 'users.json'), JSON.stringify({ users: [{ username: 'carol', password: hash, home: 'carol' }] }));
    await fs.writeFile(config, 'root: root\nusers: users.json\ntls-cert: c.pem\ntls-key: k.pem\n');
    const s = await serve(['--config', config, '--log-format', 'json'], dir);
    try {
      await fs.writeFile(config, 'root: root\nusers: users.json\ntls-cert: c.pem\ntls-key: carol/k.pem\n');
      s.proc.kill('SIGHUP');
      await logged(s, /config file not reloaded|config file reloaded/);
      assert.match(s.err(), /"err":"--tls-key [^"]*carol[^"]* is inside the served folder [^"]*","msg":"config file not reloaded/);
    } finally {
      s.proc.kill('SIGINT');
      assert.equal(await exited(s.proc), 0);
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
