// RFC reply codes over the wire, command family by command family, with files checked on disk.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import os from 'node:os';
import { startServer, USER, PASSWORD } from '../helpers/server.js';
import { RawClient, collect } from '../helpers/raw-client.js';

let srv;
before(async () => { srv = await startServer({ anonymous: true }); });
after(async () => { await srv.stop(); });

async function loggedIn() {
  const c = await RawClient.connect(srv.port);
  await c.login(USER, PASSWORD);
  return c;
}

test('greeting, unknown, unimplemented and pre-login replies', async () => {
  const c = await RawClient.connect(srv.port);
  assert.equal(c.greeting.code, 220);
  assert.equal((await c.cmd('FOO bar')).code, 500);
  assert.equal((await c.cmd('SMNT /x')).code, 502);
  assert.equal((await c.cmd('PWD')).code, 530);
  assert.equal((await c.cmd('RETR x')).code, 530);
  assert.equal((await c.cmd('PASS nouser')).code, 503);
  assert.equal((await c.cmd('SYST')).text, 'UNIX Type: L8');
  assert.equal((await c.cmd('NOOP')).code, 200);
  assert.equal((await c.cmd('USER')).code, 501);
  assert.equal((await c.cmd('QUIT')).code, 221);
  c.close();
});

test('login: bad password 530, then good login 230; ACCT 202; REIN logs out', async () => {
  const c = await RawClient.connect(srv.port);
  assert.equal((await c.cmd(`USER ${USER}`)).code, 331);
  assert.equal((await c.cmd('PASS wrong')).code, 530);
  assert.equal((await c.cmd('PWD')).code, 530);
  await c.login(USER, PASSWORD);
  assert.equal((await c.cmd('PASS again')).code, 503);
  assert.equal((await c.cmd('ACCT x')).code, 202);
  assert.equal((await c.cmd('REIN')).code, 220);
  assert.equal((await c.cmd('PWD')).code, 530);
  c.close();
});

test('anonymous login is read-only', async () => {
  await fs.writeFile(path.join(srv.root, 'pub.txt'), 'public');
  const c = await RawClient.connect(srv.port);
  assert.equal((await c.cmd('USER anonymous')).code, 331);
  assert.equal((await c.cmd('PASS guest@example.com')).code, 230);
  assert.equal((await c.cmd('MKD nope')).code, 550);
  assert.equal((await c.cmd('DELE pub.txt')).code, 550);
  assert.equal((await c.cmd('SIZE pub.txt')).code, 213);
  const d = await c.passive();
  assert.equal((await c.cmd('STOR evil.txt')).code, 550);
  d.destroy();
  await assert.rejects(fs.stat(path.join(srv.root, 'evil.txt')));
  assert.equal(await fs.readFile(path.join(srv.root, 'pub.txt'), 'utf8'), 'public');
  c.close();
});

test('navigation: PWD, CWD, CDUP, X- aliases, quoting of 257 paths', async () => {
  await fs.mkdir(path.join(srv.root, 'dir "q"'), { recursive: true });
  const c = await loggedIn();
  assert.equal((await c.cmd('PWD')).text, '"/" is the current directory.');
  assert.equal((await c.cmd('CWD dir "q"')).code, 250);
  assert.equal((await c.cmd('XPWD')).text, '"/dir ""q""" is the current directory.');
  assert.equal((await c.cmd('CDUP')).code, 250);
  assert.equal((await c.cmd('PWD')).text, '"/" is the current directory.');
  assert.equal((await c.cmd('XCWD nowhere')).code, 550);
  assert.equal((await c.cmd('CWD ../../..')).code, 250);
  assert.equal((await c.cmd('PWD')).text, '"/" is the current directory.');
  assert.equal((await c.cmd('XCUP')).code, 250);
  c.close();
});

test('MKD/RMD/DELE/RNFR/RNTO with files on disk', async () => {
  const c = await loggedIn();
  const mk = await c.cmd('MKD newdir');
  assert.equal(mk.code, 257);
  assert.match(mk.text, /^"\/newdir"/);
  assert.ok((await fs.stat(path.join(srv.root, 'newdir'))).isDirectory());
  assert.equal((await c.cmd('XMKD newdir')).code, 550);
  await fs.writeFile(path.join(srv.root, 'newdir', 'f.txt'), 'x');
  assert.equal((await c.cmd('RMD newdir')).code, 550, 'not empty');
  assert.equal((await c.cmd('RNTO orphan')).code, 503);
  assert.equal((await c.cmd('RNFR newdir/f.txt')).code, 350);
  assert.equal((await c.cmd('NOOP')).code, 200);
  assert.equal((await c.cmd('RNTO g.txt')).code, 503, 'RNTO must follow RNFR immediately');
  assert.equal((await c.cmd('RNFR newdir/f.txt')).code, 350);
  assert.equal((await c.cmd('RNTO g.txt')).code, 250);
  assert.equal(await fs.readFile(path.join(srv.root, 'g.txt'), 'utf8'), 'x');
  assert.equal((await c.cmd('RNFR missing')).code, 550);
  assert.equal((await c.cmd('XRMD newdir')).code, 250);
  assert.equal((await c.cmd('DELE g.txt')).code, 250);
  assert.equal((await c.cmd('DELE g.txt')).code, 550);
  await assert.rejects(fs.stat(path.join(srv.root, 'g.txt')));
  c.close();
});

test('SIZE, MDTM, MFMT, SITE CHMOD and SITE HELP', async () => {
  await fs.writeFile(path.join(srv.root, 'lines.txt'), 'a\nb\nc\n');
  const c = await loggedIn();
  assert.equal((await c.cmd('TYPE I')).code, 200);
  assert.equal((await c.cmd('SIZE lines.txt')).text, '6');
  assert.equal((await c.cmd('TYPE A')).code, 200);
  assert.equal((await c.cmd('SIZE lines.txt')).text, '9', 'ASCII size counts CRLF');
  assert.equal((await c.cmd('SIZE nothing')).code, 550);
  const mf = await c.cmd('MFMT 20200102030405 lines.txt');
  assert.equal(mf.code, 213);
  assert.equal((await c.cmd('MDTM lines.txt')).text, '20200102030405');
  assert.equal((await fs.stat(path.join(srv.root, 'lines.txt'))).mtime.toISOString(), '2020-01-02T03:04:05.000Z');
  assert.equal((await c.cmd('MFMT 2020 lines.txt')).code, 501);
  // Times the file system cannot hold are clamped by it (tmpfs: 1901 to 2446): the reply says
  // the time as stored, which MDTM then shows, not the time asked for.
  for (const asked of ['00500101000000', '99991231235959', '19991231235959']) {
    const r = await c.cmd(`MFMT ${asked} lines.txt`);
    assert.equal(r.code, 213);
    assert.equal(r.text, `Modify=${(await c.cmd('MDTM lines.txt')).text}; /lines.txt`, asked);
  }
  assert.equal((await c.cmd('MDTM lines.txt')).text, '19991231235959');
  assert.equal((await c.cmd('SITE CHMOD 600 lines.txt')).code, 200);
  assert.equal((await fs.stat(path.join(srv.root, 'lines.txt'))).mode & 0o777, 0o600);
  assert.equal((await c.cmd('SITE CHMOD 9z9 lines.txt')).code, 501);
  assert.equal((await c.cmd('SITE HELP')).code, 214);
  assert.equal((await c.cmd('SITE CPFR lines.txt')).code, 500);
  c.close();
});

test('transfer parameters: TYPE, MODE, STRU, ALLO, REST', async () => {
  const c = await loggedIn();
  for (const [line, code] of [['TYPE I', 200], ['TYPE A', 200], ['TYPE A N', 200], ['TYPE L 8', 200], ['TYPE E', 504],
    ['TYPE A T', 200], ['TYPE A C', 504], ['TYPE X', 501], ['MODE S', 200], ['MODE B', 504], ['MODE Q', 501], ['STRU F', 200],
    ['STRU R', 504], ['STRU Z', 501], ['ALLO 100', 202], ['ALLO 100 R 80', 202], ['ALLO', 501], ['ALLO abc', 501], ['ALLO -5', 501],
    ['PASV x', 501], ['PWD /etc', 501], ['CDUP x', 501], ['SYST now', 501], ['REST 10', 350], ['REST -1', 501], ['REST abc', 501]]) {
    assert.equal((await c.cmd(line)).code, code, line);
  }
  c.close();
});

test('RETR and STOR in binary and ASCII, with REST resume, bytes checked on disk', async () => {
  const data = Buffer.alloc(300_000);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 255;
  await fs.writeFile(path.join(srv.root, 'bin.dat'), data);
  const c = await loggedIn();
  await c.cmd('TYPE I');
  let d = await c.passive();
  let got = collect(d);
  assert.equal((await c.cmd('RETR bin.dat')).code, 150);
  assert.deepEqual(await got, data);
  assert.equal((await c.read()).code, 226);

  // resume a download from an offset
  assert.equal((await c.cmd('REST 100000')).code, 350);
  d = await c.passive('EPSV');
  got = collect(d);
  assert.equal((await c.cmd('RETR bin.dat')).code, 150);
  assert.deepEqual(await got, data.subarray(100000));
  assert.equal((await c.read()).code, 226);

  // upload half, then resume the upload with REST
  d = await c.passive();
  assert.equal((await c.cmd('STOR up.dat')).code, 150);
  d.end(data.subarray(0, 120000));
  assert.equal((await c.read()).code, 226);
  assert.equal((await c.cmd('REST 120000')).code, 350);
  d = await c.passive();
  assert.equal((await c.cmd('STOR up.dat')).code, 150);
  d.end(data.subarray(120000));
  assert.equal((await c.read()).code, 226);
  assert.deepEqual(await fs.readFile(path.join(srv.root, 'up.dat')), data);

  // ASCII: CRLF on the wire, LF on disk
  await c.cmd('TYPE A');
  d = await c.passive();
  assert.equal((await c.cmd('STOR text.txt')).code, 150);
  d.end('one\r\ntwo\r\n');
  assert.equal((await c.read()).code, 226);
  assert.equal(await fs.readFile(path.join(srv.root, 'text.txt'), 'utf8'), 'one\ntwo\n');
  d = await c.passive();
  got = collect(d);
  assert.equal((await c.cmd('RETR text.txt')).code, 150);
  assert.equal((await got).toString(), 'one\r\ntwo\r\n');
  assert.equal((await c.read()).code, 226);

  // REST in TYPE A counts octets as transferred (RFC 3659 5): a client holding the first n of them
  // gets exactly the rest, wherever n falls, between a CR and its LF included.
  const local = 'hello\nworld\r\nend\n\nlast';
  await fs.writeFile(path.join(srv.root, 'resume.txt'), local);
  const wire = 'hello\r\nworld\r\nend\r\n\r\nlast';
  assert.equal((await c.cmd('SIZE resume.txt')).text, String(wire.length));
  for (let n = 0; n <= wire.length; n++) {
    if (n) assert.equal((await c.cmd(`REST ${n}`)).code, 350);
    d = await c.passive('EPSV');
    got = collect(d);
    assert.equal((await c.cmd('RETR resume.txt')).code, 150);
    assert.equal((await got).toString(), wire.slice(n), `RETR after REST ${n}`);
    assert.equal((await c.read()).code, 226);
    // An upload cut after n octets, then resumed at n: on disk, the file as if sent whole.
    d = await c.passive('EPSV');
    assert.equal((await c.cmd('STOR reup.txt')).code, 150);
    d.end(wire.slice(0, n));
    assert.equal((await c.read()).code, 226);
    if (n) assert.equal((await c.cmd(`REST ${n}`)).code, 350);
    d = await c.passive('EPSV');
    assert.equal((await c.cmd('STOR reup.txt')).code, 150);
    d.end(wire.slice(n));
    assert.equal((await c.read()).code, 226);
    assert.equal(await fs.readFile(path.join(srv.root, 'reup.txt'), 'utf8'), 'hello\nworld\nend\n\nlast', `STOR after REST ${n}`);
  }
  assert.equal((await c.cmd(`REST ${wire.length + 1}`)).code, 350);
  d = await c.passive('EPSV');
  assert.equal((await c.cmd('RETR resume.txt')).code, 554);
  d.destroy();
  // Finding the offset means reading the file: not for files over 16 MiB (as SIZE in TYPE A),
  // and an offset past twice the file's size is refused without reading anything.
  const big = await fs.open(path.join(srv.root, 'big-text.txt'), 'w');
  await big.truncate(17 * 1024 * 1024);
  await big.close();
  for (const [rest, verb] of [[5, 'RETR big-text.txt'], [5, 'STOR big-text.txt'], [999999999999, 'RETR resume.txt'], [999999999999, 'STOR reup.txt']]) {
    assert.equal((await c.cmd(`REST ${rest}`)).code, 350);
    d = await c.passive('EPSV');
    assert.equal((await c.cmd(verb)).code, 554, `REST ${rest} ${verb}`);
    d.destroy();
  }
  assert.equal((await fs.stat(path.join(srv.root, 'big-text.txt'))).size, 17 * 1024 * 1024, 'untouched');
  c.close();
});

test('APPE appends and STOU never overwrites', async () => {
  await fs.writeFile(path.join(srv.root, 'log.txt'), 'first\n');
  const c = await loggedIn();
  await c.cmd('TYPE I');
  let d = await c.passive();
  assert.equal((await c.cmd('APPE log.txt')).code, 150);
  d.end('second\n');
  assert.equal((await c.read()).code, 226);
  assert.equal(await fs.readFile(path.join(srv.root, 'log.txt'), 'utf8'), 'first\nsecond\n');
  d = await c.passive();
  const r = await c.cmd('STOU log.txt');
  assert.equal(r.code, 150);
  const name = /FILE: (.+)$/.exec(r.text)[1];
  assert.notEqual(name, 'log.txt');
  d.end('unique');
  assert.equal((await c.read()).code, 226);
  assert.equal(await fs.readFile(path.join(srv.root, name), 'utf8'), 'unique');
  assert.equal(await fs.readFile(path.join(srv.root, 'log.txt'), 'utf8'), 'first\nsecond\n');
  c.close();
});

test('ABOR with no transfer running: 226 (RFC 959 4.1.3), and a prepared passive port is given up', async () => {
  const c = await loggedIn();
  assert.equal((await c.cmd('ABOR')).code, 226);
  const d = await c.passive();
  const closed = new Promise((resolve) => { d.on('error', () => {}); d.once('close', resolve); });
  assert.equal((await c.cmd('ABOR')).code, 226);
  await closed; // the data connection is closed
  assert.equal((await c.cmd('RETR anything')).code, 425, 'the PASV set-up is gone');
  assert.equal((await c.cmd('NOOP')).code, 200, 'exactly one reply each');
  c.close();
});

test('transfer without PORT/PASV is 425; RETR of a missing file or a folder is 550', async () => {
  const c = await loggedIn();
  assert.equal((await c.cmd('RETR whatever')).code, 425);
  let d = await c.passive();
  assert.equal((await c.cmd('RETR missing')).code, 550);
  d.destroy();
  await fs.mkdir(path.join(srv.root, 'afolder'), { recursive: true });
  d = await c.passive();
  assert.equal((await c.cmd('RETR afolder')).code, 550);
  d.destroy();
  assert.equal((await c.cmd('NOOP')).code, 200);
  c.close();
});

test('LIST, NLST, MLSD, MLST, STAT with a path', async () => {
  await fs.mkdir(path.join(srv.root, 'ls/sub'), { recursive: true });
  await fs.writeFile(path.join(srv.root, 'ls/a b.txt'), '12345');
  const c = await loggedIn();
  let d = await c.passive();
  let got = collect(d);
  assert.equal((await c.cmd('LIST -la ls')).code, 150);
  let text = (await got).toString();
  assert.equal((await c.read()).code, 226);
  assert.match(text, /^-rw-r--r-- +1 \S+ +\S+ +5 \w{3} [ \d]\d [ \d]\d:\d\d a b\.txt\r$/m);
  assert.match(text, /^d[rwx-]{9} .* sub\r$/m);

  d = await c.passive();
  got = collect(d);
  assert.equal((await c.cmd('NLST ls')).code, 150);
  assert.deepEqual((await got).toString().split('\r\n').filter(Boolean).sort(), ['ls/a b.txt', 'ls/sub']);
  assert.equal((await c.read()).code, 226);

  d = await c.passive();
  got = collect(d);
  assert.equal((await c.cmd('MLSD ls')).code, 150);
  text = (await got).toString();
  assert.equal((await c.read()).code, 226);
  assert.match(text, /^type=file;size=5;modify=\d{14}(\.\d{1,3})?;perm=[adfrw]+;unique=\w+;unix\.mode=0644; a b\.txt\r$/m);
  assert.match(text, /^type=dir;modify=\d+.*; sub\r$/m);

  assert.match((await c.cmd('MLST')).lines[1], /^ type=cdir;.* \/$/);
  const ml = await c.cmd('MLST ls/a b.txt');
  assert.equal(ml.code, 250);
  assert.match(ml.lines[1], /^ type=file;size=5;.* \/ls\/a b\.txt$/);
  d = await c.passive();
  assert.equal((await c.cmd('MLSD ls/a b.txt')).code, 501);
  d.destroy();

  // RFC 3659 7.9.1: "MLST OPTS" [ SP 1*( factname ";" ) ]: no facts, no space; MLST then
  // shows the name alone, after its one space.
  assert.equal((await c.cmd('OPTS MLST')).text, 'MLST OPTS');
  assert.equal((await c.cmd('OPTS MLST bogus;')).text, 'MLST OPTS');
  assert.equal((await c.cmd('MLST ls/a b.txt')).lines[1], '  /ls/a b.txt');
  assert.equal((await c.cmd('OPTS MLST type;size;')).text, 'MLST OPTS type;size;');
  // A space inside the fact list is a syntax error that leaves the selection unchanged (7.9.2).
  assert.equal((await c.cmd('OPTS MLST unique type;')).code, 501);
  assert.equal((await c.cmd('OPTS MLST type; perm;')).code, 501);
  assert.match((await c.cmd('MLST ls/a b.txt')).lines[1], /^ type=file;size=5; \/ls\/a b\.txt$/);

  // RFC 959 4.2: 212 for a folder's status, 213 for a file's.
  const st = await c.cmd('STAT ls');
  assert.equal(st.code, 212);
  assert.ok(st.lines.some((l) => l.endsWith(' a b.txt')));
  const sf = await c.cmd('STAT ls/a b.txt');
  assert.equal(sf.code, 213);
  assert.ok(sf.lines.some((l) => l.endsWith(' a b.txt')));
  assert.equal((await c.cmd('STAT nowhere')).code, 550);

  // A trailing space is part of a name for the listing commands too, as for MKD and CWD.
  assert.equal((await c.cmd('MKD ls/trail ')).code, 257);
  await fs.writeFile(path.join(srv.root, 'ls/trail ', 'inside.txt'), 'x');
  assert.match((await c.cmd('MLST ls/trail ')).lines[1], /^ type=dir;.* \/ls\/trail $/);
  for (const verb of ['MLSD', 'NLST']) {
    d = await c.passive();
    got = collect(d);
    assert.equal((await c.cmd(`${verb} ls/trail `)).code, 150, verb);
    assert.match((await got).toString(), /inside\.txt\r\n$/);
    assert.equal((await c.read()).code, 226);
  }
  assert.equal((await c.cmd('STAT ls/trail ')).code, 212);

  // A name with CR or LF (made outside FTP) would end a listing line early, or a STAT reply:
  // it is left out, and every other entry is listed as usual.
  await fs.writeFile(path.join(srv.root, 'ls', 'evil\r\n213 End of status.\r\n230 injected'), 'x');
  await fs.writeFile(path.join(srv.root, 'ls', 'line\nfeed'), 'x');
  const injected = await c.cmd('STAT ls');
  assert.equal(injected.code, 212);
  assert.ok(!injected.lines.some((l) => /injected|evil|feed/.test(l)), injected.text);
  assert.equal((await c.cmd('NOOP')).code, 200, 'no stray reply is waiting');
  for (const verb of ['LIST', 'NLST', 'MLSD']) {
    d = await c.passive();
    got = collect(d);
    assert.equal((await c.cmd(`${verb} ls`)).code, 150, verb);
    const body = (await got).toString();
    assert.equal((await c.read()).code, 226);
    assert.ok(!/injected|evil|feed/.test(body), `${verb}: ${body}`);
    assert.match(body, /a b\.txt\r\n/);
  }
  d = await c.passive();
  assert.equal((await c.cmd('LIST nowhere')).code, 550);
  d.destroy();
  c.close();
});

test('FEAT, OPTS UTF8, HELP, HOST, CLNT, STAT', async () => {
  const c = await RawClient.connect(srv.port);
  assert.equal((await c.cmd('HOST ftp.example.com')).code, 220);
  // RFC 7151 3: hostname = domain / IP-literal; anything else is a syntax error.
  for (const good of ['127.0.0.1', '[::1]', 'FTP.Example.COM.', 'xn--bcher-kva.example', 'localhost']) {
    assert.equal((await c.cmd(`HOST ${good}`)).code, 220, good);
  }
  for (const bad of ['two words', '::1', '[127.0.0.1]', 'a..b', '-a.example', 'a/b', 'host:21']) {
    assert.equal((await c.cmd(`HOST ${bad}`)).code, 501, bad);
  }
  const feat = await c.cmd('FEAT');
  assert.equal(feat.code, 211);
  for (const f of ['UTF8', 'EPSV', 'EPRT', 'MDTM', 'SIZE', 'REST STREAM', 'MFMT', 'TVFS', 'HOST']) {
    assert.ok(feat.lines.includes(' ' + f), `FEAT lists ${f}`);
  }
  assert.ok(feat.lines.some((l) => /^ MLST type\*;size\*;modify\*;perm\*;unique\*;unix\.mode\*;$/.test(l)));
  assert.ok(feat.lines.includes(' LANG EN*'));
  assert.equal((await c.cmd('LANG en-US')).code, 200);
  assert.equal((await c.cmd('LANG fr')).code, 504);
  assert.equal((await c.cmd('OPTS UTF8 ON')).code, 200);
  // RFC 2389 4: an option the server does not support is 501 (names are always UTF-8 here).
  assert.equal((await c.cmd('OPTS UTF8 OFF')).code, 501);
  assert.equal((await c.cmd('OPTS UTF8 ON')).code, 200);
  assert.equal((await c.cmd('OPTS BOGUS')).code, 501);
  assert.equal((await c.cmd('CLNT test-suite 1.0')).code, 200);
  const help = await c.cmd('HELP');
  assert.equal(help.code, 214);
  assert.ok(help.text.includes('RETR'));
  assert.equal((await c.cmd('HELP RETR')).code, 214);
  assert.equal((await c.cmd('HELP NOSUCH')).code, 501);
  assert.equal((await c.cmd('STAT')).code, 211);
  await c.login(USER, PASSWORD);
  assert.equal((await c.cmd('HOST again.example.com')).code, 503);
  c.close();
});

test('PORT/EPRT checks: syntax 501, bounce targets 504, families 522, EPSV ALL', async () => {
  const c = await loggedIn();
  assert.equal((await c.cmd('PORT 1,2,3')).code, 501);
  assert.equal((await c.cmd('PORT 127,0,0,1,300,1')).code, 501);
  assert.equal((await c.cmd('PORT 10,0,0,1,200,1')).code, 504, 'other host');
  assert.equal((await c.cmd('PORT 127,0,0,1,0,21')).code, 504, 'privileged port');
  assert.equal((await c.cmd('PORT 127,0,0,1,200,1')).code, 200);
  assert.equal((await c.cmd('EPRT |3|1.2.3.4|5000|')).code, 522);
  assert.equal((await c.cmd('EPRT |1|127.0.0.1|')).code, 501);
  assert.equal((await c.cmd('EPRT |1|127.0.0.1|5000|')).code, 200);
  assert.equal((await c.cmd('EPSV 2')).code, 522);
  // RFC 2428 3: a family number the server does not support is 522 too (with the usable list);
  // only an argument that is no number at all is a syntax error.
  const unknownFamily = await c.cmd('EPSV 3');
  assert.equal(unknownFamily.code, 522);
  assert.match(unknownFamily.text, /\(1\)/);
  assert.equal((await c.cmd('EPSV x')).code, 501);
  assert.equal((await c.cmd('EPSV ALL')).code, 200);
  assert.equal((await c.cmd('PASV')).code, 503);
  assert.equal((await c.cmd('PORT 127,0,0,1,200,1')).code, 503);
  assert.equal((await c.cmd('EPSV')).code, 229);
  c.close();
});

test('over IPv6 (::1): EPSV 2 and bare EPSV work, EPSV 1 is 522 naming (2), PASV is refused, EPRT |2| to the client is 200', async (t) => {
  let v6;
  try {
    v6 = await startServer({ host: '::1' });
  } catch (err) {
    t.skip(`no IPv6 loopback here: ${err.message}`);
    return;
  }
  try {
    const c = await RawClient.connect(v6.port, '::1');
    await c.login(USER, PASSWORD);
    const one = await c.cmd('EPSV 1');
    assert.equal(one.code, 522);
    assert.match(one.text, /\(2\)$/);
    assert.equal((await c.cmd('EPSV 2')).code, 229);
    assert.equal((await c.cmd('PASV')).code, 425, 'PASV can only name an IPv4 address');
    assert.equal((await c.cmd('EPRT |2|::1|50000|')).code, 200);
    assert.equal((await c.cmd('EPRT |1|127.0.0.1|50000|')).code, 504, 'not the control connection\'s address');
    await fs.writeFile(path.join(v6.root, 'six.txt'), 'over v6');
    const d = await c.passive('EPSV');
    const got = collect(d);
    assert.equal((await c.cmd('RETR six.txt')).code, 150);
    assert.equal((await got).toString(), 'over v6');
    assert.equal((await c.read()).code, 226);
    c.close();
  } finally {
    await v6.stop();
  }
});

test('pipelined commands are answered in order', async () => {
  const c = await RawClient.connect(srv.port);
  c.writeRaw(`USER ${USER}\r\nPASS ${PASSWORD}\r\nTYPE I\r\nPWD\r\nSYST\r\nNOOP\r\n`);
  const codes = [];
  for (let i = 0; i < 6; i++) codes.push((await c.read()).code);
  assert.deepEqual(codes, [331, 230, 200, 257, 215, 200]);
  c.close();
});

test('Telnet IAC sequences are stripped; long, NUL and invalid UTF-8 lines are refused', async () => {
  const c = await RawClient.connect(srv.port);
  c.writeRaw(Buffer.from([0xff, 0xf4, 0xff, 0xf2, ...Buffer.from('NOOP\r\n')]));
  assert.equal((await c.read()).code, 200);
  c.writeRaw(Buffer.from([0xff, 0xfb, 0x01, ...Buffer.from('NOOP\r\n')]));
  assert.equal((await c.read()).code, 200);
  c.writeRaw('NOOP ' + 'x'.repeat(10_000) + '\r\n');
  assert.equal((await c.read()).code, 500);
  c.writeRaw(Buffer.from('USER a\0b\r\n'));
  assert.equal((await c.read()).code, 501);
  c.writeRaw(Buffer.from([...Buffer.from('USER '), 0xc3, 0x28, 0x0d, 0x0a]));
  assert.equal((await c.read()).code, 501);
  assert.equal((await c.cmd('NOOP')).code, 200, 'still serving');
  c.close();
});

test('UTF-8 file names round-trip', async () => {
  const c = await loggedIn();
  await c.cmd('OPTS UTF8 ON');
  await c.cmd('TYPE I');
  const name = 'naïve résumé 日本.txt';
  let d = await c.passive();
  assert.equal((await c.cmd(`STOR ${name}`)).code, 150);
  d.end('utf8!');
  assert.equal((await c.read()).code, 226);
  assert.equal(await fs.readFile(path.join(srv.root, name), 'utf8'), 'utf8!');
  d = await c.passive();
  const got = collect(d);
  await c.cmd('NLST');
  assert.ok((await got).toString('utf8').split('\r\n').includes(name));
  assert.equal((await c.read()).code, 226);
  c.close();
});

test('SIZE in TYPE A reads each version of a file once, for every session of the storage', async () => {
  const { LocalStorage } = await import('../../dist/index.js');
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-asize-'));
  const local = new LocalStorage(root);
  let reads = 0;
  const counted = new Proxy(local, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target);
      if (prop === 'createReadStream') return (...a) => { reads++; return v.apply(target, a); };
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  const srv = await startServer({ root, storage: () => counted });
  try {
    await fs.writeFile(path.join(root, 'lines.txt'), 'a\nb\nc\n');
    const sizes = [];
    for (let i = 0; i < 2; i++) {
      const c = await RawClient.connect(srv.port);
      await c.login(USER, PASSWORD);
      await c.cmd('TYPE A');
      for (let j = 0; j < 3; j++) sizes.push((await c.cmd('SIZE lines.txt')).text);
      c.close();
    }
    assert.deepEqual(sizes, ['9', '9', '9', '9', '9', '9']);
    assert.equal(reads, 1, 'six SIZEs, one read');
    // A changed file is read again.
    await fs.writeFile(path.join(root, 'lines.txt'), 'a\nb\nc\nd\n');
    const c = await RawClient.connect(srv.port);
    await c.login(USER, PASSWORD);
    await c.cmd('TYPE A');
    assert.equal((await c.cmd('SIZE lines.txt')).text, '12');
    assert.equal(reads, 2);
    c.close();
  } finally {
    await srv.stop();
    await fs.rm(root, { recursive: true, force: true });
  }
});
