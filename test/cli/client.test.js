// The client subcommands as a user runs them: wharf ls/get/put/mirror/rm/mkdir/shell against a
// live server, exit codes, credentials from env and .netrc, progress only on a terminal.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, have } from '../helpers/run.js';
import { startServer, USER, PASSWORD } from '../helpers/server.js';
import { selfSignedCertificate } from '../../dist/server/certificates.js';

const HAVE_SCRIPT = await have('script');
const PTY_DRIVE = fileURLToPath(new URL('../helpers/pty_drive.py', import.meta.url));
const BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const wharf = (args, opts = {}) => run(process.execPath, [BIN, ...args], { timeout: 60_000, ...opts, env: { ...cleanEnv(), ...opts.env } });

/** No credentials leaking in from the machine running the tests. */
function cleanEnv() {
  const env = { ...process.env, NETRC: '/nonexistent', WHARF_HISTFILE: '/dev/null' };
  delete env.WHARF_USER;
  delete env.WHARF_PASSWORD;
  return env;
}

/** Run `command` in a pseudo-terminal (util-linux `script`), feeding `input` to it. */
function inTerminal(command, { input = '', cwd, env } = {}) {
  const line = command.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return run('script', ['-qfec', `stty cols 100; ${line}`, '/dev/null'], { input, cwd, timeout: 60_000, env: { ...cleanEnv(), TERM: 'xterm', ...env } });
}

describe('wharf client commands', () => {
  let srv, url, hostUrl, work;
  before(async () => {
    srv = await startServer({ users: [{ username: USER, password: PASSWORD }, { username: 'carol', password: 'netrc-secret' }] });
    url = srv.url;
    hostUrl = `ftp://127.0.0.1:${srv.port}`;
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-cli-client-'));
  });
  after(async () => {
    await srv.stop();
    await fs.rm(work, { recursive: true, force: true });
  });

  test('put then get a file byte for byte; a URL ending in / keeps the local name', async () => {
    const data = crypto.randomBytes(1_500_000);
    const local = path.join(work, 'photo.jpg');
    await fs.writeFile(local, data);
    const up = await wharf(['put', '-p', local, `${url}/incoming/2026/`]);
    assert.equal(up.status, 0, up.stderr);
    assert.ok(data.equals(await fs.readFile(path.join(srv.root, 'incoming/2026/photo.jpg'))));
    assert.equal(up.stderr, '', 'quiet when stderr is not a terminal');
    const dest = path.join(work, 'down');
    await fs.mkdir(dest);
    const down = await wharf(['get', `${url}/incoming/2026/photo.jpg`, dest]);
    assert.equal(down.status, 0, down.stderr);
    assert.ok(data.equals(await fs.readFile(path.join(dest, 'photo.jpg'))));
  });

  test('get - writes to stdout; put - reads stdin', async () => {
    const r = await wharf(['put', '-', `${url}/from-stdin.txt`], { input: 'piped in\n' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(await fs.readFile(path.join(srv.root, 'from-stdin.txt'), 'utf8'), 'piped in\n');
    const g = await wharf(['get', `${url}/from-stdin.txt`, '-']);
    assert.equal(g.status, 0, g.stderr);
    assert.equal(g.text, 'piped in\n');
    // The same through device paths on shell pipes: no positioned reads or writes there.
    const sh = (line) => run('sh', ['-c', line], { env: { ...cleanEnv(), WHARF: `"${process.execPath}" "${BIN}"` } });
    const r2 = await sh(`printf 'through /dev/stdin\\n' | eval "$WHARF put /dev/stdin '${url}/from-dev-stdin.txt'"`);
    assert.equal(r2.status, 0, r2.stderr);
    assert.equal(await fs.readFile(path.join(srv.root, 'from-dev-stdin.txt'), 'utf8'), 'through /dev/stdin\n');
    const g2 = await sh(`eval "$WHARF get -q '${url}/from-dev-stdin.txt' /dev/stdout" | cat`);
    assert.equal(g2.status, 0, g2.stderr);
    assert.equal(g2.text, 'through /dev/stdin\n');
  });

  test('get -c resumes a partial file and put -c a partial upload', async () => {
    const data = crypto.randomBytes(700_000);
    await fs.writeFile(path.join(srv.root, 'resume.bin'), data);
    const local = path.join(work, 'resume.bin');
    await fs.writeFile(local, data.subarray(0, 123_456));
    const r = await wharf(['get', '-c', `${url}/resume.bin`, local]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(data.equals(await fs.readFile(local)));
    await fs.writeFile(path.join(srv.root, 'resume-up.bin'), data.subarray(0, 400_000));
    const u = await wharf(['put', '-c', local, `${url}/resume-up.bin`]);
    assert.equal(u.status, 0, u.stderr);
    assert.ok(data.equals(await fs.readFile(path.join(srv.root, 'resume-up.bin'))));
    // In ASCII mode servers count a restart offset differently: refused, and nothing is touched.
    await fs.writeFile(path.join(srv.root, 'text.txt'), 'line one\nline two\nline three\n');
    await fs.writeFile(path.join(work, 'text.txt'), 'line one\n');
    for (const args of [['get', '-c', '--ascii', `${url}/text.txt`, path.join(work, 'text.txt')], ['put', '-c', '--ascii', path.join(work, 'text.txt'), `${url}/text.txt`]]) {
      const a = await wharf(args);
      assert.equal(a.status, 2, args.join(' '));
      assert.match(a.stderr, /--continue cannot be combined with --ascii/);
    }
    assert.equal(await fs.readFile(path.join(work, 'text.txt'), 'utf8'), 'line one\n');
    assert.equal(await fs.readFile(path.join(srv.root, 'text.txt'), 'utf8'), 'line one\nline two\nline three\n');
    // Whole ASCII transfers convert line ends both ways.
    assert.equal((await wharf(['get', '--ascii', `${url}/text.txt`, path.join(work, 'text.txt')])).status, 0);
    assert.equal(await fs.readFile(path.join(work, 'text.txt'), 'utf8'), 'line one\nline two\nline three\n');
  });

  test('get --segments fetches one file over several connections', async () => {
    const data = crypto.randomBytes(5 * 1024 * 1024 + 17);
    await fs.writeFile(path.join(srv.root, 'large.bin'), data);
    const local = path.join(work, 'large.bin');
    const r = await wharf(['get', '--segments', '3', `${url}/large.bin`, local]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(data.equals(await fs.readFile(local)));
  });

  test('get --segments replaces an existing file only when done, keeping its permissions, and leaves no temporary file', async () => {
    const data = crypto.randomBytes(3 * 1024 * 1024 + 5);
    await fs.writeFile(path.join(srv.root, 'private.bin'), data);
    const dir = path.join(work, 'segments-private');
    await fs.mkdir(dir, { recursive: true });
    const local = path.join(dir, 'private.bin');
    await fs.writeFile(local, 'old private content, longer than nothing', { mode: 0o600 });
    await fs.chmod(local, 0o600);
    const r = await wharf(['get', '--segments', '3', `${url}/private.bin`, local]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(data.equals(await fs.readFile(local)));
    assert.equal((await fs.stat(local)).mode & 0o777, 0o600);
    assert.deepEqual(await fs.readdir(dir), ['private.bin']);
  });

  test('ls: names, long format and JSON', async () => {
    await fs.mkdir(path.join(srv.root, 'lsdir/sub'), { recursive: true });
    await fs.writeFile(path.join(srv.root, 'lsdir/a file.txt'), 'abc');
    const r = await wharf(['ls', `${url}/lsdir/`]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.text.trim().split('\n'), ['a file.txt', 'sub/']);
    const l = await wharf(['ls', '-l', `${url}/lsdir`]);
    assert.match(l.text, /^- +3 +\d{4}-\d\d-\d\d \d\d:\d\d +a file\.txt$/m);
    const j = JSON.parse((await wharf(['ls', '--json', `${url}/lsdir`])).text);
    assert.deepEqual(j.map((e) => [e.name, e.type, e.size]).sort(), [['a file.txt', 'file', 3], ['sub', 'dir', j.find((e) => e.name === 'sub').size]]);
  });

  test('mkdir, mkdir -p, rm, rm -r', async () => {
    assert.equal((await wharf(['mkdir', `${url}/m1`])).status, 0);
    assert.ok((await fs.stat(path.join(srv.root, 'm1'))).isDirectory());
    const exists = await wharf(['mkdir', `${url}/m1`]);
    assert.equal(exists.status, 4, 'exists already: the server refuses');
    assert.match(exists.stderr, /^wharf: MKD m1: 550 /);
    assert.equal((await wharf(['mkdir', '-p', `${url}/m1/m2/m3`])).status, 0);
    await fs.writeFile(path.join(srv.root, 'm1/m2/m3/f.txt'), 'x');
    assert.equal((await wharf(['rm', `${url}/m1/m2/m3/f.txt`])).status, 0);
    await assert.rejects(fs.stat(path.join(srv.root, 'm1/m2/m3/f.txt')));
    const notEmpty = await wharf(['rm', '-d', `${url}/m1`]);
    assert.equal(notEmpty.status, 4);
    assert.equal((await wharf(['rm', '-r', `${url}/m1`])).status, 0);
    await assert.rejects(fs.stat(path.join(srv.root, 'm1')));
    assert.equal((await wharf(['rm', '-r', `${url}/`])).status, 2, 'never the root');
  });

  test('mirror down and --reverse up, unchanged files skipped, --delete', async () => {
    const tree = { 'a.txt': 'alpha', 'd1/b.txt': 'bravo', 'd1/d2/c.bin': crypto.randomBytes(300_000) };
    const src = path.join(work, 'tree');
    for (const [rel, content] of Object.entries(tree)) {
      await fs.mkdir(path.dirname(path.join(src, rel)), { recursive: true });
      await fs.writeFile(path.join(src, rel), content);
    }
    const up = await wharf(['mirror', '--reverse', '--parallel', '3', src, `${url}/site`]);
    assert.equal(up.status, 0, up.stderr);
    assert.deepEqual(up.text.trim().split('\n').sort(), ['transfer a.txt', 'transfer d1/b.txt', 'transfer d1/d2/c.bin']);
    for (const [rel, content] of Object.entries(tree)) assert.ok(Buffer.from(content).equals(await fs.readFile(path.join(srv.root, 'site', rel))), rel);
    const again = await wharf(['mirror', '-R', src, `${url}/site`]);
    assert.equal(again.text, '', 'nothing changed, nothing sent');
    const down = path.join(work, 'copy');
    const d = await wharf(['mirror', `${url}/site`, down]);
    assert.equal(d.status, 0, d.stderr);
    for (const [rel, content] of Object.entries(tree)) assert.ok(Buffer.from(content).equals(await fs.readFile(path.join(down, rel))), rel);
    await fs.rm(path.join(src, 'd1/b.txt'));
    const del = await wharf(['mirror', '-R', '--delete', src, `${url}/site`]);
    assert.match(del.text, /^delete d1\/b\.txt$/m);
    await assert.rejects(fs.stat(path.join(srv.root, 'site/d1/b.txt')));
  });

  test('exit codes: usage 2, login refused 3, cannot connect 3, missing file 4', async () => {
    assert.equal((await wharf(['get'])).status, 2);
    assert.equal((await wharf(['get', 'http://example/x'])).status, 2);
    assert.equal((await wharf(['mirror', '--parallel', '0', 'a', 'b'])).status, 2);
    const bad = await wharf(['ls', `ftp://${USER}:wrong-password@127.0.0.1:${srv.port}/`]);
    assert.equal(bad.status, 3);
    assert.match(bad.stderr, /login refused/);
    assert.doesNotMatch(bad.stderr, /wrong-password/);
    const closed = await wharf(['ls', `ftp://127.0.0.1:1/`]);
    assert.equal(closed.status, 3);
    const missing = await wharf(['get', `${url}/no-such-file`, path.join(work, 'nothing')]);
    assert.equal(missing.status, 4);
    assert.match(missing.stderr, /550/);
  });

  test('credentials from WHARF_USER/WHARF_PASSWORD and from .netrc; -v never shows the password', async () => {
    await fs.writeFile(path.join(srv.root, 'cred.txt'), 'ok');
    const env = await wharf(['get', `${hostUrl}/cred.txt`, '-'], { env: { WHARF_USER: USER, WHARF_PASSWORD: PASSWORD } });
    assert.equal(env.status, 0, env.stderr);
    assert.equal(env.text, 'ok');
    const netrc = path.join(work, 'netrc');
    await fs.writeFile(netrc, '# accounts\nmachine other.example login x password y\n\nmachine 127.0.0.1\n  login carol\n  password netrc-secret\ndefault login nobody password none\n');
    const viaNetrc = await wharf(['get', '-v', `${hostUrl}/cred.txt`, '-'], { env: { NETRC: netrc } });
    assert.equal(viaNetrc.status, 0, viaNetrc.stderr);
    assert.equal(viaNetrc.text, 'ok');
    assert.match(viaNetrc.stderr, /> USER carol/);
    assert.match(viaNetrc.stderr, /> PASS \*\*\*\*/);
    assert.doesNotMatch(viaNetrc.stderr, /netrc-secret/);
    // A user in the URL takes the netrc password only from an entry for that same user.
    const other = await wharf(['ls', `ftp://${USER}@127.0.0.1:${srv.port}/`], { env: { NETRC: netrc } });
    assert.equal(other.status, 3, 'no password for alice anywhere and no terminal to ask on');
    assert.match(other.stderr, /password is needed/);
    const verbose = await wharf(['ls', '-v', `${url}/`]);
    assert.equal(verbose.status, 0);
    assert.doesNotMatch(verbose.stderr, /wonder/);
  });

  test('no message quotes a password, whatever the mistake', async () => {
    await fs.writeFile(path.join(srv.root, 'secret-test.txt'), 'x');
    const cases = [
      ['ls', 'ftp://u:sekrit-1@/x'], // no host: not a URL
      ['ls', 'ftp://u:sek/rit-2@host/x'], // a / in the password
      // Arguments swapped: the URL with the password is taken as the local side.
      ['mirror', '--reverse', `ftp://${USER}:sekrit-3@127.0.0.1:${srv.port}/x`, `${url}/`],
      ['put', `ftp://${USER}:sekrit-4@127.0.0.1:${srv.port}/file`, `${url}/`],
      ['get', `${url}/secret-test.txt`, `ftp://${USER}:sekrit-5@127.0.0.1:${srv.port}/no/such/dir`],
      ['mirror', `${url}/`, `ftp://${USER}:sekrit-6@127.0.0.1:${srv.port}/x`, '--bogus'],
      ['ls', `--bogus=ftp://u:sekrit-7@h/`, `${url}/`],
    ];
    for (const args of cases) {
      const r = await wharf(args);
      assert.notEqual(r.status, 0, args.join(' '));
      assert.match(r.stderr, /\S/, `${args.join(' ')}: says what is wrong`);
      for (const out of [r.stderr, r.text]) {
        assert.doesNotMatch(out, /sek/, args.join(' '));
        assert.doesNotMatch(out, /wonder/, args.join(' '));
      }
    }
    // The known password is hidden wherever it appears, also outside a URL.
    const local = path.join(work, `wonder land`, 'x');
    const r = await wharf(['get', `${url}/secret-test.txt`, local]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no such file/i);
    assert.doesNotMatch(r.stderr, /wonder/);
  });

  test('FTPS: certificate checked unless --insecure; --ca trusts a given certificate', async () => {
    const cert = await selfSignedCertificate();
    const tlsSrv = await startServer({ tls: cert, requireTls: true, implicitTlsPort: 0 });
    try {
      const u = `ftpes://${USER}:${encodeURIComponent(PASSWORD)}@127.0.0.1:${tlsSrv.port}/`;
      await fs.writeFile(path.join(tlsSrv.root, 'secret.txt'), 'sealed');
      const strict = await wharf(['get', `${u}secret.txt`, '-']);
      assert.equal(strict.status, 3);
      assert.match(strict.stderr, /certificate/i);
      const insecure = await wharf(['get', '--insecure', `${u}secret.txt`, '-']);
      assert.equal(insecure.status, 0, insecure.stderr);
      assert.equal(insecure.text, 'sealed');
      const caFile = path.join(work, 'server-cert.pem');
      await fs.writeFile(caFile, cert.cert);
      const pinned = await wharf(['get', '--ca', caFile, `${u}secret.txt`, '-']);
      assert.equal(pinned.status, 0, pinned.stderr);
      assert.equal(pinned.text, 'sealed');
      const implicit = await wharf(['get', '--ca', caFile, `ftps://${USER}:${encodeURIComponent(PASSWORD)}@127.0.0.1:${tlsSrv.implicitTlsPort}/secret.txt`, '-']);
      assert.equal(implicit.status, 0, implicit.stderr);
      assert.equal(implicit.text, 'sealed');
      const plain = await wharf(['get', `ftp://${USER}:${encodeURIComponent(PASSWORD)}@127.0.0.1:${tlsSrv.port}/secret.txt`, '-']);
      assert.equal(plain.status, 3, 'the server requires TLS: plain login refused');
    } finally {
      await tlsSrv.stop();
    }
  });

  test('a progress bar on a terminal, for get and put', { skip: !HAVE_SCRIPT && 'needs util-linux script' }, async () => {
    const data = crypto.randomBytes(3 * 1024 * 1024);
    await fs.writeFile(path.join(srv.root, 'tty.bin'), data);
    const local = path.join(work, 'tty.bin');
    const g = await inTerminal([process.execPath, BIN, 'get', `${url}/tty.bin`, local]);
    assert.equal(g.status, 0, g.text);
    assert.ok(data.equals(await fs.readFile(local)));
    assert.match(g.text, /tty\.bin \[#+\] 100%  3\.0 MiB  [\d.]+ (B|KiB|MiB|GiB)\/s  done/);
    assert.match(g.text, /got 3\.0 MiB in [\d.]+ s/);
    const p = await inTerminal([process.execPath, BIN, 'put', local, `${url}/tty-up.bin`]);
    assert.equal(p.status, 0, p.text);
    assert.match(p.text, /tty-up\.bin \[#+\] 100%/);
    assert.ok(data.equals(await fs.readFile(path.join(srv.root, 'tty-up.bin'))));
  });

  test('shell driven through stdin: cd, ls, get, put, mkdir, mv, rm, lcd, errors', async () => {
    await fs.mkdir(path.join(srv.root, 'sh/inner'), { recursive: true });
    await fs.writeFile(path.join(srv.root, 'sh/inner/note.txt'), 'from the server');
    const local = await fs.mkdtemp(path.join(work, 'shell-'));
    await fs.writeFile(path.join(local, 'upload me.txt'), 'from the client');
    const script = [
      'pwd', 'cd sh', 'ls', 'cd inner', 'get note.txt', 'put "upload me.txt"', 'mkdir made', 'mv "upload me.txt" made/moved.txt',
      'ls made', 'rm note.txt', 'nonsense', 'cd /does/not/exist', 'lpwd', 'bye', 'ls',
    ].join('\n') + '\n';
    const r = await wharf(['shell', `${url}/`], { input: script, cwd: local });
    assert.equal(r.status, 4, 'a script with failed commands exits 4');
    const out = r.text.trim().split('\n');
    assert.deepEqual(out, ['/', '/sh', 'inner/', '/sh/inner', 'moved.txt', local]);
    assert.match(r.stderr, /unknown command: nonsense/);
    assert.match(r.stderr, /cd: CWD \/does\/not\/exist: 550/);
    assert.equal(await fs.readFile(path.join(local, 'note.txt'), 'utf8'), 'from the server');
    assert.equal(await fs.readFile(path.join(srv.root, 'sh/inner/made/moved.txt'), 'utf8'), 'from the client');
    await assert.rejects(fs.stat(path.join(srv.root, 'sh/inner/note.txt')));
  });

  test('shell in a terminal: prompt, Tab completes remote names, history', async () => {
    await fs.mkdir(path.join(srv.root, 'tab/unique-folder-name'), { recursive: true });
    await fs.writeFile(path.join(srv.root, 'tab/unique-folder-name/deep.txt'), 'tabbed');
    const local = await fs.mkdtemp(path.join(work, 'tab-'));
    // "cd tab/uni<Tab>" completes the folder; "get dee<Tab>" completes the file; each step waits for the prompt.
    const steps = [
      { expect: 'wharf:/> ', send: 'cd tab/uni\t' },
      { expect: 'unique-folder-name/', send: '\r' },
      { expect: 'wharf:/tab/unique-folder-name> ', send: 'get dee\t' },
      { expect: 'deep\\.txt', send: '\r' },
      { expect: 'deep\\.txt: 6 B', send: 'history\r' },
      { expect: '2 +get deep\\.txt' },
      { expect: 'wharf:', send: 'bye\r' },
    ];
    const r = await run('python3', [PTY_DRIVE, JSON.stringify(steps), '--', process.execPath, BIN, 'shell', `${url}/`],
      { cwd: local, timeout: 60_000, env: { ...cleanEnv(), TERM: 'xterm' } });
    assert.equal(r.status, 0, `${r.text}\n${r.stderr}`);
    assert.equal(await fs.readFile(path.join(local, 'deep.txt'), 'utf8'), 'tabbed');
    assert.match(r.text, /1 +cd tab\/unique-folder-name\/\s/);
    assert.match(r.text, /2 +get deep\.txt/);
  });
});
