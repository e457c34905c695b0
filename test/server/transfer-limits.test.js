// Transfer limits: bandwidth per session, account and anonymous; the largest upload; CLI flags and users-file fields.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startServer, USER, PASSWORD } from '../helpers/server.js';
import { RawClient, collect, firstLine } from '../helpers/raw-client.js';
import { run } from '../helpers/run.js';
import { serve, exited, BIN } from '../helpers/serve-cli.js';
import { parseRate } from '../../dist/transfer-limits.js';
import { parseUsersFile } from '../../dist/server/auth/users-file.js';
import { selfSignedCertificate } from '../../dist/server/certificates.js';
import net from 'node:net';
import tls from 'node:tls';
import { parsePasvReply } from '../../dist/protocol/address.js';

const K = 1024;
const curl = (args) => run('curl', ['-sS', '--max-time', '60', ...args]);
/** Wall time of `f` in seconds. A limit shows as a lower bound: load only makes transfers slower. */
async function timed(f) {
  const t0 = process.hrtime.bigint();
  const r = await f();
  return { r, s: Number(process.hrtime.bigint() - t0) / 1e9 };
}

test('rates: bytes per second, K/M/G binary multiples, 0 for none; nonsense and crawls refused', () => {
  assert.equal(parseRate('512K'), 512 * K);
  assert.equal(parseRate('1.5M'), 1.5 * K * K);
  assert.equal(parseRate('10MB/s'), 10 * K * K);
  assert.equal(parseRate('2g'), 2 * K * K * K);
  assert.equal(parseRate('4096'), 4096);
  assert.equal(parseRate(0), 0);
  assert.equal(parseRate('0'), 0);
  for (const bad of ['', 'fast', '-1K', '1X', '1.5', '100', 512, 1.5, -4096, '1K2', '1M/h']) {
    assert.throws(() => parseRate(bad), /rate|bytes per second|at least 1K/, String(bad));
  }
});

test('downloads and uploads keep to the server limit; an account with its own limit of 0 is not held', async () => {
  const srv = await startServer({
    maxRate: { download: 100 * K, upload: 64 * K },
    users: [{ username: USER, password: PASSWORD }, { username: 'fast', password: 'x', maxRate: { download: 0 } }],
  });
  try {
    const body = crypto.randomBytes(300 * K);
    await fs.writeFile(path.join(srv.root, 'f.bin'), body);
    const out = path.join(srv.root, 'got.bin');
    const slow = await timed(() => curl(['-o', out, `${srv.url}/f.bin`]));
    assert.equal(slow.r.status, 0, slow.r.stderr);
    assert.ok(body.equals(await fs.readFile(out)), 'downloaded bytes');
    // 300 KiB at 100 KiB/s: the first tenth of a second's piece goes at once, the rest keeps time.
    assert.ok(slow.s >= 2.5, `limited download took ${slow.s} s`);
    const fast = await timed(() => curl(['-o', out, `ftp://fast:x@127.0.0.1:${srv.port}/f.bin`]));
    assert.equal(fast.r.status, 0, fast.r.stderr);
    assert.ok(body.equals(await fs.readFile(out)));
    assert.ok(fast.s < slow.s / 2, `unlimited ${fast.s} s against limited ${slow.s} s`);
    // TYPE A goes the stream path with its line-end step: limited all the same.
    const ascii = await timed(() => curl(['-B', '-o', out, `${srv.url}/f.bin`]));
    assert.equal(ascii.r.status, 0, ascii.r.stderr);
    assert.ok(ascii.s >= 2.5, `limited ASCII download took ${ascii.s} s`);
    const up = crypto.randomBytes(192 * K);
    await fs.writeFile(path.join(os.tmpdir(), 'wharf-bw-up.bin'), up);
    const stor = await timed(() => curl(['-T', path.join(os.tmpdir(), 'wharf-bw-up.bin'), `${srv.url}/up.bin`]));
    assert.equal(stor.r.status, 0, stor.r.stderr);
    assert.ok(up.equals(await fs.readFile(path.join(srv.root, 'up.bin'))), 'uploaded bytes');
    // 226 comes once every byte is in the file: 192 KiB at 64 KiB/s.
    assert.ok(stor.s >= 2.5, `limited upload took ${stor.s} s`);
  } finally {
    await srv.stop();
  }
});

test('anonymous sessions keep to their own limit while accounts are not limited', async () => {
  const srv = await startServer({ anonymous: { maxRate: { download: 64 * K } } });
  try {
    const body = crypto.randomBytes(200 * K);
    await fs.writeFile(path.join(srv.root, 'pub.bin'), body);
    const anon = await timed(() => curl([`ftp://127.0.0.1:${srv.port}/pub.bin`, '-o', path.join(srv.root, 'a.bin')]));
    assert.equal(anon.r.status, 0, anon.r.stderr);
    assert.ok(body.equals(await fs.readFile(path.join(srv.root, 'a.bin'))));
    assert.ok(anon.s >= 2.5, `anonymous download took ${anon.s} s`);
    const user = await timed(() => curl([`${srv.url}/pub.bin`, '-o', path.join(srv.root, 'u.bin')]));
    assert.ok(body.equals(await fs.readFile(path.join(srv.root, 'u.bin'))));
    assert.ok(user.s < anon.s / 2, `account ${user.s} s against anonymous ${anon.s} s`);
  } finally {
    await srv.stop();
  }
});

test('ABOR during a paced download answers at once; the session and the file are fine', async () => {
  const srv = await startServer({ maxRate: { download: 16 * K } });
  try {
    await fs.writeFile(path.join(srv.root, 'big.bin'), Buffer.alloc(4 * K * K, 1));
    const c = await RawClient.connect(srv.port);
    await c.login(USER, PASSWORD);
    await c.cmd('TYPE I');
    const data = await c.passive('EPSV');
    const got = collect(data).catch(() => Buffer.alloc(0));
    assert.equal((await c.cmd('RETR big.bin')).code, 150);
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    const abor = await c.cmd('ABOR');
    const replies = [abor.code];
    if (abor.code === 426) replies.push((await c.read()).code);
    assert.deepEqual(replies, [426, 226]);
    // At 16 KiB/s the file would take over four minutes: the ABOR did not wait for the pace.
    assert.ok(Date.now() - t0 < 10_000, `ABOR answered after ${Date.now() - t0} ms`);
    assert.ok((await got).length < 4 * K * K);
    assert.equal((await c.cmd('NOOP')).code, 200);
    assert.equal((await fs.stat(path.join(srv.root, 'big.bin'))).size, 4 * K * K);
    c.close();
  } finally {
    await srv.stop();
  }
});

test('wharf serve: --max-download-rate and --anonymous-max-rate hold; bad rates are refused by name', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-bw-'));
  try {
    const body = crypto.randomBytes(128 * K);
    await fs.writeFile(path.join(dir, 'f.bin'), body);
    const s = await serve(['--root', dir, '--user', 'bob:pw', '--anonymous', '--max-download-rate', '1M', '--anonymous-max-rate', '40K', '--log-level', 'warn'], dir);
    try {
      const anon = await timed(() => curl([`ftp://127.0.0.1:${s.port}/f.bin`, '-o', path.join(dir, 'a.bin')]));
      assert.equal(anon.r.status, 0, anon.r.stderr);
      assert.ok(body.equals(await fs.readFile(path.join(dir, 'a.bin'))));
      assert.ok(anon.s >= 2.5, `anonymous at 40K: ${anon.s} s for 128 KiB`);
    } finally {
      s.proc.kill('SIGINT');
      assert.equal(await exited(s.proc), 0);
    }
    for (const [flag, value] of [['--max-download-rate', 'fast'], ['--max-upload-rate', '100'], ['--anonymous-max-rate', '5X']]) {
      const r = await run(process.execPath, [BIN, 'serve', '--port', '0', '--root', dir, '--anonymous', flag, value]);
      assert.equal(r.status, 1, `${flag} ${value}`);
      assert.match(r.stderr, new RegExp(flag), r.stderr);
    }
    const noAnon = await run(process.execPath, [BIN, 'serve', '--port', '0', '--root', dir, '--user', 'a:b', '--anonymous-max-rate', '1M']);
    assert.equal(noAnon.status, 1);
    assert.match(noAnon.stderr, /--anonymous-max-rate needs --anonymous/);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('users file: maxDownloadRate and maxUploadRate per user, checked', () => {
  const hash = 'scrypt$16384$8$1$c2FsdA==$' + Buffer.alloc(32, 1).toString('base64');
  const [u] = parseUsersFile(`users:\n  - {username: cam, password: "${hash}", maxUploadRate: 2M, maxDownloadRate: 0}\n`, 'u.yaml', '/');
  assert.deepEqual(u.maxRate, { download: 0, upload: 2 * K * K });
  const [plain] = parseUsersFile(`users:\n  - {username: p, password: "${hash}"}\n`, 'u.yaml', '/');
  assert.equal(plain.maxRate, undefined);
  assert.throws(() => parseUsersFile(`users:\n  - {username: cam, password: "${hash}", maxUploadRate: lots}\n`, 'u.yaml', '/'), /cam.*maxUploadRate/);
});

test('upload size limit: 552 past it, the file removed; at the limit fine; REST, APPE and the block and stream paths all counted', async () => {
  const srv = await startServer({ maxUploadSize: 100 * K, users: [{ username: USER, password: PASSWORD }, { username: 'big', password: 'x', maxUploadSize: 0 }] });
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-size-'));
  try {
    const exact = crypto.randomBytes(100 * K);
    const over = crypto.randomBytes(300 * K);
    await fs.writeFile(path.join(tmp, 'exact.bin'), exact);
    await fs.writeFile(path.join(tmp, 'over.bin'), over);
    const ok = await curl(['-T', path.join(tmp, 'exact.bin'), `${srv.url}/exact.bin`]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.ok(exact.equals(await fs.readFile(path.join(srv.root, 'exact.bin'))));
    for (const ascii of [false, true]) {
      const r = await curl([...(ascii ? ['-B'] : []), '-v', '-T', path.join(tmp, 'over.bin'), `${srv.url}/over.bin`]);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /< 552 Exceeded storage allocation/, ascii ? 'TYPE A' : 'TYPE I');
      await assert.rejects(fs.stat(path.join(srv.root, 'over.bin')), /ENOENT/, 'the oversized upload is removed');
    }
    // An account with its own limit of 0 may upload it.
    const big = await curl(['-T', path.join(tmp, 'over.bin'), `ftp://big:x@127.0.0.1:${srv.port}/over.bin`]);
    assert.equal(big.status, 0, big.stderr);
    assert.ok(over.equals(await fs.readFile(path.join(srv.root, 'over.bin'))));

    const c = await RawClient.connect(srv.port);
    await c.login(USER, PASSWORD);
    await c.cmd('TYPE I');
    // A restart offset past the limit is refused before any data connection is used.
    await c.passive('EPSV');
    assert.equal((await c.cmd('REST 204800')).code, 350);
    assert.equal((await c.cmd('STOR over.bin')).code, 552);
    // Resuming inside the limit, then sending past it: counted from the offset.
    await fs.writeFile(path.join(srv.root, 'part.bin'), exact.subarray(0, 90 * K));
    let d = await c.passive('EPSV');
    assert.equal((await c.cmd(`REST ${90 * K}`)).code, 350);
    assert.equal((await c.cmd('STOR part.bin')).code, 150);
    d.write(crypto.randomBytes(20 * K));
    d.end();
    assert.equal((await c.read()).code, 552);
    await assert.rejects(fs.stat(path.join(srv.root, 'part.bin')), /ENOENT/);
    // APPE counts the file it adds to, and keeps it.
    await fs.writeFile(path.join(srv.root, 'log.txt'), Buffer.alloc(95 * K, 0x61));
    d = await c.passive('EPSV');
    assert.equal((await c.cmd('APPE log.txt')).code, 150);
    d.write(Buffer.alloc(10 * K, 0x62));
    d.end();
    assert.equal((await c.read()).code, 552);
    const kept = await fs.readFile(path.join(srv.root, 'log.txt'));
    assert.ok(kept.length >= 95 * K && kept.subarray(0, 95 * K).every((b) => b === 0x61), 'the appended-to file keeps its bytes');
    assert.equal((await c.cmd('NOOP')).code, 200);
    c.close();
  } finally {
    await srv.stop();
    await fs.rm(tmp, { recursive: true, force: true });
  }
});

test('wharf serve --anonymous-max-upload-size limits the drop box; users file maxUploadSize is checked', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-size-'));
  try {
    await fs.mkdir(path.join(dir, 'incoming'));
    await fs.writeFile(path.join(os.tmpdir(), 'wharf-size-src.bin'), crypto.randomBytes(64 * K));
    const s = await serve(['--root', dir, '--anonymous', '--anonymous-upload-dir', '/incoming', '--anonymous-max-upload-size', '32K', '--log-level', 'warn'], dir);
    try {
      const r = await curl(['-v', '-T', path.join(os.tmpdir(), 'wharf-size-src.bin'), `ftp://127.0.0.1:${s.port}/incoming/drop.bin`]);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /< 552 /);
      await assert.rejects(fs.stat(path.join(dir, 'incoming', 'drop.bin')), /ENOENT/);
    } finally {
      s.proc.kill('SIGINT');
      assert.equal(await exited(s.proc), 0);
    }
    const bad = await run(process.execPath, [BIN, 'serve', '--port', '0', '--root', dir, '--max-upload-size', 'huge']);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /--max-upload-size/);
    const hash = 'scrypt$16384$8$1$c2FsdA==$' + Buffer.alloc(32, 1).toString('base64');
    const [u] = parseUsersFile(`users:\n  - {username: cam, password: "${hash}", maxUploadSize: 4G}\n`, 'u.yaml', '/');
    assert.equal(u.maxUploadSize, 4 * K * K * K);
    assert.throws(() => parseUsersFile(`users:\n  - {username: cam, password: "${hash}", maxUploadSize: big}\n`, 'u.yaml', '/'), /cam.*maxUploadSize/);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('updateLimits on a running server: checked whole before anything changes, then in force for new transfers and connections', async () => {
  const srv = await startServer();
  try {
    assert.throws(() => srv.server.updateLimits({ maxUploadSize: 10 * K, denyFrom: ['not-an-address'] }), /denyFrom/);
    const c = await RawClient.connect(srv.port);
    await c.login(USER, PASSWORD);
    await c.cmd('TYPE I');
    const send = async (name, n) => {
      const d = await c.passive('EPSV');
      assert.equal((await c.cmd(`STOR ${name}`)).code, 150);
      d.end(Buffer.alloc(n, 7));
      return (await c.read()).code;
    };
    // The refused update changed nothing: no size limit yet.
    assert.equal(await send('a.bin', 20 * K), 226);
    srv.server.updateLimits({ maxUploadSize: 10 * K, maxSessions: 1 });
    assert.equal(await send('b.bin', 20 * K), 552);
    await assert.rejects(fs.stat(path.join(srv.root, 'b.bin')), /ENOENT/);
    // One session is open: the next connection is refused.
    assert.match(await firstLine(srv.port), /^421 /);
    srv.server.updateLimits({ maxUploadSize: undefined });
    assert.equal(await send('c.bin', 20 * K), 226);
    c.close();
  } finally {
    await srv.stop();
  }
});

test('upload size limit on the stream path: TYPE A counts the file as stored (LF), and a refused append does not grow the file past the limit', async () => {
  const srv = await startServer({
    maxUploadSize: 100 * K,
    users: [{ username: USER, password: PASSWORD }, { username: 'paced', password: 'x', maxRate: { upload: 1024 * K } }],
  });
  try {
    for (const [user, pass, type] of [[USER, PASSWORD, 'A'], ['paced', 'x', 'A'], ['paced', 'x', 'I']]) {
      const c = await RawClient.connect(srv.port);
      await c.login(user, pass);
      await c.cmd(`TYPE ${type}`);
      const name = `${user}-${type}`;
      if (type === 'A') {
        // 100 KiB as stored, 125 KiB on the wire with CRLF: it fits.
        const d = await c.passive('EPSV');
        assert.equal((await c.cmd(`STOR ${name}.txt`)).code, 150);
        d.end(Buffer.from('abc\r\n'.repeat(25 * K)));
        assert.equal((await c.read()).code, 226, `${name}: a file at the limit as stored`);
        assert.ok(Buffer.from('abc\n'.repeat(25 * K)).equals(await fs.readFile(path.join(srv.root, `${name}.txt`))));
      }
      await fs.writeFile(path.join(srv.root, `${name}.log`), Buffer.alloc(95 * K, 0x61));
      const d = await c.passive('EPSV');
      assert.equal((await c.cmd(`APPE ${name}.log`)).code, 150);
      d.end(Buffer.alloc(60 * K, 0x62));
      assert.equal((await c.read()).code, 552, name);
      const kept = await fs.readFile(path.join(srv.root, `${name}.log`));
      assert.ok(kept.length >= 95 * K && kept.length <= 100 * K, `${name}: the appended-to file is ${kept.length} bytes, the limit ${100 * K}`);
      assert.ok(kept.subarray(0, 95 * K).every((b) => b === 0x61));
      assert.equal((await c.cmd('NOOP')).code, 200);
      c.close();
    }
  } finally {
    await srv.stop();
  }
});

test('upload size limit on the binary paths: a refused append leaves the file as it was (plain block path and FTPS), not grown by the read that passed the limit', async () => {
  const cert = await selfSignedCertificate();
  // Limits where a read that passes them also fills a block (256 KiB) or a 1 MiB batch (TLS).
  const srv = await startServer({
    tls: cert,
    users: [{ username: 'blk', password: 'x', maxUploadSize: 100 * K }, { username: 'blk2', password: 'x', maxUploadSize: 256 * K - 1 },
      { username: 'sec', password: 'x', maxUploadSize: K * K - 1 }],
  });
  try {
    for (const [user, base, secure] of [['blk', 95 * K, false], ['blk2', 0, false], ['sec', 0, true], ['sec', 95 * K, true]]) {
      const c = await RawClient.connect(srv.port);
      const control = secure ? await c.startTls() : undefined;
      await c.login(user, 'x');
      await c.cmd('TYPE I');
      if (secure) for (const cmd of ['PBSZ 0', 'PROT P']) assert.equal((await c.cmd(cmd)).code, 200);
      const name = `${user}-${base}.log`;
      await fs.writeFile(path.join(srv.root, name), Buffer.alloc(base, 0x61));
      const { port } = parsePasvReply((await c.cmd('PASV')).text);
      const raw = net.connect({ host: '127.0.0.1', port });
      raw.setTimeout(30_000, () => raw.destroy());
      raw.on('error', () => {});
      await new Promise((r) => raw.once('connect', r));
      assert.equal((await c.cmd(`APPE ${name}`)).code, 150);
      let data = raw;
      if (secure) {
        data = tls.connect({ socket: raw, rejectUnauthorized: false, session: control.getSession() });
        await new Promise((r) => data.once('secureConnect', r));
      }
      data.on('error', () => {});
      for (let i = 0; i < 128; i++) data.write(Buffer.alloc(16 * K, 0x62));
      data.end();
      assert.equal((await c.read(30_000)).code, 552, `${user} from ${base}`);
      const kept = await fs.readFile(path.join(srv.root, name));
      const max = { blk: 100 * K, blk2: 256 * K - 1, sec: K * K - 1 }[user];
      assert.ok(kept.length >= base && kept.length <= max, `${user} from ${base}: the appended-to file is ${kept.length} bytes, the limit ${max}`);
      assert.ok(kept.subarray(0, base).every((b) => b === 0x61) && kept.subarray(base).every((b) => b === 0x62));
      raw.destroy();
      assert.equal((await c.cmd('NOOP')).code, 200);
      c.close();
    }
  } finally {
    await srv.stop();
  }
});
