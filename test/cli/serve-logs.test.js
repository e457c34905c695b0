// The log of `wharf serve` as an operator reads it: each transfer and change, each failure with its reason, no noise, no password.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { run } from '../helpers/run.js';
import { serve, exited } from '../helpers/serve-cli.js';

const PASSWORD = 'Log-Secret-42';

/** SIGTERM, then the JSON log lines it wrote. */
async function stop(s) {
  s.proc.kill('SIGTERM');
  assert.equal(await exited(s.proc), 0);
  return s.err().trim().split('\n').map((l) => JSON.parse(l));
}

const FTPLIB = `
import ftplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
f = ftplib.FTP_TLS(context=ctx, timeout=20); f.connect('127.0.0.1', int(sys.argv[1]))
f.auth(); f.login('ops', sys.argv[2]); f.prot_p()
try: f.retrbinary('RETR up.bin', lambda b: None); print('transferred')
except ftplib.error_temp as e: print('refused', e)
except ssl.SSLError:
    # The data connection was closed under its handshake; the reason is on the control connection.
    try: f.getresp()
    except ftplib.error_temp as e: print('refused', e)
f.quit()
`;

test('transfers, changes and failed transfers are logged at info, with who and how much', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-log-'));
  const s = await serve(['--log-format', 'json', '--root', dir, '--user', `ops:${PASSWORD}`, '--tls-self-signed', '--require-tls-reuse']);
  try {
    const data = crypto.randomBytes(100_000);
    await fs.writeFile(path.join(dir, '..', path.basename(dir) + '.src'), data);
    const url = `ftp://127.0.0.1:${s.port}/`;
    const curl = (...a) => run('curl', ['-sS', '--max-time', '20', '--ssl-reqd', '-k', '--user', `ops:${PASSWORD}`, ...a]);
    assert.equal((await curl('-T', path.join(dir, '..', path.basename(dir) + '.src'), `${url}up.bin`)).status, 0);
    assert.ok((await curl(`${url}up.bin`)).stdout.equals(data));
    assert.equal((await curl('-Q', 'MKD made', '-Q', 'RNFR made', '-Q', 'RNTO moved', '-Q', 'RMD moved', url)).status, 0);
    // Python's ftplib does not resume the TLS session on data connections: refused, and the log says why.
    const py = await run('python3', ['-c', FTPLIB, String(s.port), PASSWORD]);
    assert.match(py.text, /refused 425/, py.stderr);
  } finally {
    const lines = await stop(s);
    await fs.rm(dir, { recursive: true, force: true });
    await fs.rm(path.join(dir, '..', path.basename(dir) + '.src'), { force: true });
    const by = (msg) => lines.filter((l) => l.msg === msg);
    assert.deepEqual(by('upload').map((l) => [l.level, l.user, l.path, l.bytes, l.mode, l.remote]), [['info', 'ops', '/up.bin', 100_000, 'store', '127.0.0.1']]);
    assert.deepEqual(by('download').map((l) => [l.user, l.path, l.bytes]), [['ops', '/up.bin', 100_000]]);
    assert.deepEqual(by('mkdir').map((l) => l.path), ['/made']);
    assert.deepEqual(by('rename').map((l) => [l.from, l.to]), [['/made', '/moved']]);
    assert.deepEqual(by('delete').map((l) => [l.path, l.type]), [['/moved', 'dir']]);
    const failed = by('transfer failed');
    assert.equal(failed.length, 1, JSON.stringify(lines));
    assert.equal(failed[0].level, 'info');
    assert.equal(failed[0].what, 'RETR /up.bin');
    assert.equal(failed[0].reply, 425);
    assert.match(failed[0].err, /session reuse required/);
    // ftplib closes without a TLS close_notify after QUIT: not a TLS failure worth an operator's attention.
    assert.deepEqual(lines.filter((l) => /TLS/.test(l.msg) && l.level !== 'debug'), [], 'no TLS noise at info');
    assert.ok(by('stopped').length === 1, 'a clean stop is logged');
    assert.ok(!JSON.stringify(lines).includes(PASSWORD));
  }
});

test('a TLS handshake that fails is logged at info with the address', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-log-'));
  const s = await serve(['--log-format', 'json', '--root', dir, '--tls-self-signed']);
  try {
    const c = net.connect(s.port, '127.0.0.1');
    c.on('error', () => {});
    let got = '';
    c.on('data', (d) => {
      got += d;
      if (/^220 /m.test(got) && !got.includes('234')) c.write('AUTH TLS\r\n');
      if (got.includes('234 ')) c.end('this is not a TLS client hello\r\n');
    });
    await new Promise((r) => c.once('close', r));
  } finally {
    const lines = await stop(s);
    await fs.rm(dir, { recursive: true, force: true });
    const failed = lines.filter((l) => l.msg === 'TLS handshake failed on control connection');
    assert.equal(failed.length, 1, JSON.stringify(lines));
    assert.equal(failed[0].level, 'info');
    assert.equal(failed[0].remote, '127.0.0.1');
  }
});
