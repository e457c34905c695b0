// `wharf` against hostile or broken servers (scripted, on 127.0.0.1): segmented downloads that
// fail must not touch the user's file, byte counts must match the size the server gave, text
// from the server must not drive the terminal, and one bad file must not end a mirror.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fakeServer, RFC959 } from '../helpers/fake-server.js';
import { run } from '../helpers/run.js';

const BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

/** Run the CLI under a hard time bound; resolves { code, stdout, stderr }. */
async function wharf(args) {
  const r = await run(process.execPath, [BIN, ...args], { timeout: 20_000 });
  return { code: r.status, stdout: r.text, stderr: r.stderr };
}

/** The scripted server of these tests: a plain RFC 959 one (PASV, no FEAT, no SIZE), and `handlers`. */
const hostileFtp = (handlers) => fakeServer({ ...RFC959, ...handlers });

const ESC = '\x1b';
const BEL = '\x07';

async function scratch(t) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-hostile-cli-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * RETR handler sending `body` over the PASV data connection, then `final` (426 if the client
 * closed the data connection first). The next command (an ABOR) is read only after that reply.
 */
const sendFile = (body, final = '226 done') => async (_a, ctx) => {
  const d = await ctx.data();
  ctx.reply('150 here it comes');
  await new Promise((resolve) => {
    let finished = false;
    d.end(body, () => { finished = true; });
    d.on('close', () => setTimeout(() => { ctx.reply(finished ? final : '426 connection closed'); resolve(); }, 20));
  });
};

/** A LIST over PASV answering `listing(arg)`. */
const listWith = (listing) => async (arg, ctx) => {
  const d = await ctx.data();
  ctx.reply('150 listing');
  d.end(listing(arg), () => setTimeout(() => ctx.reply('226 done'), 20));
};

const FEAT_REST = () => '211-Features\r\n SIZE\r\n REST STREAM\r\n211 End';

// ---- get --segments: a temporary file, renamed over the target only when complete ----

test('get --segments: RETR refused leaves the existing local file as it was, and no temporary file', async (t) => {
  const srv = await hostileFtp({ FEAT: FEAT_REST, SIZE: () => '213 8388608', REST: () => '350 ok', RETR: () => '550 Permission denied' });
  t.after(() => srv.close());
  const dir = await scratch(t);
  const local = path.join(dir, 'seg.bin');
  await fs.writeFile(local, 'precious local content\n');
  const r = await wharf(['get', '--segments', '4', srv.url('seg.bin'), local, '--timeout', '3']);
  assert.notEqual(r.code, 0);
  assert.equal(await fs.readFile(local, 'utf8'), 'precious local content\n');
  assert.deepEqual(await fs.readdir(dir), ['seg.bin']);
});

test('get --segments: a SIZE of a petabyte leaves no (sparse) file behind', async (t) => {
  const srv = await hostileFtp({ FEAT: FEAT_REST, SIZE: () => '213 1125899906842624', REST: () => '350 ok', RETR: () => '550 no' });
  t.after(() => srv.close());
  const dir = await scratch(t);
  const r = await wharf(['get', '--segments', '4', srv.url('huge.bin'), path.join(dir, 'huge.bin'), '--timeout', '3']);
  assert.notEqual(r.code, 0);
  assert.deepEqual(await fs.readdir(dir), []);
});

test('get --segments: a segment cut short with a 226 fails the download; the existing file is kept', async (t) => {
  const size = 4 * 1024 * 1024;
  const srv = await hostileFtp({
    FEAT: FEAT_REST, SIZE: () => `213 ${size}`,
    REST: (arg, ctx) => { ctx.state.rest = Number(arg); return '350 ok'; },
    // Every range gets only 1000 bytes, then a 226.
    RETR: sendFile(Buffer.alloc(1000, 7)),
  });
  t.after(() => srv.close());
  const dir = await scratch(t);
  const local = path.join(dir, 'cut.bin');
  await fs.writeFile(local, 'precious\n');
  const r = await wharf(['get', '--segments', '4', srv.url('cut.bin'), local, '--timeout', '3']);
  assert.equal(r.code, 5, r.stderr);
  assert.match(r.stderr, /received 1000 bytes/);
  assert.equal(await fs.readFile(local, 'utf8'), 'precious\n');
  assert.deepEqual(await fs.readdir(dir), ['cut.bin']);
});

// ---- byte counts against the size the server gave ----

test('get: fewer bytes than SIZE, then 226, exits 5 with a clear message', async (t) => {
  const srv = await hostileFtp({ SIZE: () => '213 1000000', RETR: sendFile(Buffer.alloc(1000, 1)) });
  t.after(() => srv.close());
  const dir = await scratch(t);
  const r = await wharf(['get', srv.url('short.bin'), path.join(dir, 'short.bin'), '--timeout', '3']);
  assert.equal(r.code, 5, r.stderr);
  assert.match(r.stderr, /received 1000 bytes, but the server gave the size as 1000000/);
});

test('get -c: a server that takes REST but sends from byte 0 fails the run; the partial file is left as it was', async (t) => {
  const full = 'A'.repeat(100) + 'B'.repeat(100);
  const srv = await hostileFtp({ FEAT: FEAT_REST, SIZE: () => '213 200', REST: () => '350 ok', RETR: sendFile(full) });
  t.after(() => srv.close());
  const dir = await scratch(t);
  const local = path.join(dir, 'resume.bin');
  await fs.writeFile(local, 'A'.repeat(100));
  const r = await wharf(['get', '-c', srv.url('resume.bin'), local, '--timeout', '3']);
  assert.equal(r.code, 5, r.stderr);
  assert.match(r.stderr, /after offset 100 \(300 in all\)/);
  assert.equal(await fs.readFile(local, 'utf8'), 'A'.repeat(100));
});

test('mirror: a file shorter than its listed size counts as failed (exit non-zero), and is fetched again next time', async (t) => {
  const listing = () => [
    '-rw-r--r-- 1 u g 1000000 Jan 01 2020 short.bin',
    '-rw-r--r-- 1 u g 4 Jan 01 2020 ok.txt',
  ].join('\r\n') + '\r\n';
  const srv = await hostileFtp({
    LIST: listWith(listing),
    RETR: (arg, ctx) => sendFile(arg.endsWith('short.bin') ? Buffer.alloc(1000, 2) : 'data')(arg, ctx),
  });
  t.after(() => srv.close());
  const dir = await scratch(t);
  const dest = path.join(dir, 'dest');
  const r = await wharf(['mirror', srv.url('top'), dest, '--timeout', '3', '-P', '1']);
  assert.notEqual(r.code, 0, r.stderr);
  assert.match(r.stderr, /failed short\.bin: .*received 1000 bytes/);
  assert.match(r.stderr, /1 transferred, .*1 failed/);
  assert.equal(await fs.readFile(path.join(dest, 'ok.txt'), 'utf8'), 'data');
  const again = await wharf(['mirror', srv.url('top'), dest, '--timeout', '3', '-P', '1']);
  assert.notEqual(again.code, 0);
  assert.match(again.stdout, /^transfer short\.bin$/m);
  assert.doesNotMatch(again.stdout, /ok\.txt/);
});

// ---- a name too long for the local file system ----

test('mirror: a remote name too long for the local file system fails that file only; the rest is mirrored, exit non-zero', async (t) => {
  const long = 'L'.repeat(300);
  const listing = (arg) => (/sub$/.test(arg) ? '-rw-r--r-- 1 u g 5 Jan 01 2020 inner.txt\r\n'
    : /L$/.test(arg) ? '-rw-r--r-- 1 u g 5 Jan 01 2020 under-the-long-one.txt\r\n'
    : [
      `-rw-r--r-- 1 u g 4 Jan 01 2020 ${long}`,
      `drwxr-xr-x 2 u g 0 Jan 01 2020 D${long}`,
      'drwxr-xr-x 2 u g 0 Jan 01 2020 sub',
      '-rw-r--r-- 1 u g 4 Jan 01 2020 ok.txt',
    ].join('\r\n') + '\r\n');
  const srv = await hostileFtp({
    LIST: listWith(listing),
    RETR: (arg, ctx) => sendFile(arg.endsWith('inner.txt') ? 'inner' : 'data')(arg, ctx),
  });
  t.after(() => srv.close());
  const dir = await scratch(t);
  const dest = path.join(dir, 'dest');
  const r = await wharf(['mirror', srv.url('top'), dest, '--timeout', '3', '-P', '1']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`failed ${long}: .*ENAMETOOLONG`));
  assert.match(r.stderr, new RegExp(`failed D${long}/: .*ENAMETOOLONG`));
  assert.equal(await fs.readFile(path.join(dest, 'ok.txt'), 'utf8'), 'data');
  assert.equal(await fs.readFile(path.join(dest, 'sub', 'inner.txt'), 'utf8'), 'inner');
  assert.match(r.stderr, /2 transferred, .*2 failed/);
});

// ---- terminal escape sequences from the server ----

const EVIL = `${ESC}]0;pwned-title${BEL}${ESC}[2J${ESC}[31mred\x9b1m\x7f`;

test('ls, ls -l: control characters in names are shown escaped, never sent raw; --json stays JSON', async (t) => {
  const srv = await hostileFtp({ LIST: listWith(() => `-rw-r--r-- 1 u g 4 Jan 01 2020 ${EVIL}\r\nlrwxrwxrwx 1 u g 4 Jan 01 2020 l -> ${ESC}[2Jt\r\n`) });
  t.after(() => srv.close());
  const r = await wharf(['ls', srv.url(''), '--timeout', '3']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!/[\x00-\x08\x0b-\x1f\x7f-\x9f]/.test(r.stdout), JSON.stringify(r.stdout));
  assert.match(r.stdout, /^\\x1b\]0;pwned-title\\x07\\x1b\[2J\\x1b\[31mred\\x9b1m\\x7f$/m);
  const l = await wharf(['ls', '-l', srv.url(''), '--timeout', '3']);
  assert.ok(!/[\x00-\x08\x0b-\x1f\x7f-\x9f]/.test(l.stdout), JSON.stringify(l.stdout));
  assert.match(l.stdout, /l -> \\x1b\[2Jt$/m);
  const j = await wharf(['ls', '--json', srv.url(''), '--timeout', '3']);
  assert.equal(j.code, 0, j.stderr);
  assert.ok(!j.stdout.includes(ESC));
  assert.ok(JSON.parse(j.stdout).some((e) => e.name === EVIL));
});

test('error replies, verbose logs and mirror paths from the server are printed with control characters escaped', async (t) => {
  const srv = await hostileFtp({
    RETR: () => `550 ${ESC}]52;c;ZWNobyBwd25lZA==${BEL}${ESC}[2Jnope`,
    LIST: listWith(() => `-rw-r--r-- 1 u g 4 Jan 01 2020 ${ESC}[2Jx.txt\r\n`),
  });
  t.after(() => srv.close());
  const dir = await scratch(t);
  const r = await wharf(['get', srv.url('x'), path.join(dir, 'x'), '--timeout', '3', '-v']);
  assert.equal(r.code, 4);
  assert.ok(!r.stderr.includes(ESC) && !r.stderr.includes(BEL), JSON.stringify(r.stderr));
  assert.match(r.stderr, /wharf: RETR x: 550 \\x1b\]52;c;ZWNobyBwd25lZA==\\x07\\x1b\[2Jnope/);
  const m = await wharf(['mirror', srv.url('top'), path.join(dir, 'm'), '--timeout', '3', '-P', '1']);
  assert.notEqual(m.code, 0);
  for (const out of [m.stdout, m.stderr]) assert.ok(!out.includes(ESC), JSON.stringify(out));
  assert.match(m.stdout, /^transfer \\x1b\[2Jx\.txt$/m);
  assert.match(m.stderr, /failed \\x1b\[2Jx\.txt: .*550 \\x1b\]52/);
});
