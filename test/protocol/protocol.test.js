// The pure protocol layer, both directions: what one side formats the other parses, and hostile input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatReply, ReplyParser } from '../../dist/protocol/reply.js';
import { CommandLineSplitter, parseCommandLine, formatCommand } from '../../dist/protocol/command-line.js';
import {
  encodeHostPort, decodeHostPort, formatPasvReply, parsePasvReply, encodeEprt, decodeEprt,
  formatEpsvReply, parseEpsvReply, isPrivateOrUnroutable, normalizeIp,
} from '../../dist/protocol/address.js';
import { resolveVirtual, quotePath, unquotePath } from '../../dist/protocol/path.js';
import { formatListLine, formatTimeVal, parseTimeVal, formatMlsxLine, selectFacts, MLST_FACTS } from '../../dist/protocol/listing.js';
import { LfToCrlf, CrlfToLf } from '../../dist/protocol/ascii.js';
import { globMatch, MAX_GLOB } from '../../dist/protocol/glob.js';

test('replies: single and multi-line format, parsed back whole', () => {
  assert.equal(formatReply(200, 'OK'), '200 OK\r\n');
  assert.equal(formatReply(211, ['Features:', ' UTF8', 'End']), '211-Features:\r\n UTF8\r\n211 End\r\n');
  // A middle line that looks like a final line is indented so the client does not stop early.
  assert.equal(formatReply(211, ['a', '211 fake', 'end']), '211-a\r\n 211 fake\r\n211 end\r\n');
  // Text with CR/LF (an echoed argument, say) cannot forge a reply of another code.
  assert.equal(formatReply(500, 'evil\r\n230 logged in'), '500-evil\r\n500 230 logged in\r\n');
  fc.assert(fc.property(fc.integer({ min: 100, max: 599 }), fc.array(fc.string({ unit: 'binary' }), { minLength: 1, maxLength: 6 }), (code, lines) => {
    const clean = lines.map((l) => l.replace(/[\r\n]/g, ''));
    const p = new ReplyParser();
    const wire = formatReply(code, clean);
    // Fed in random small pieces, the parser still yields exactly one reply with that code.
    const out = [];
    for (let i = 0; i < wire.length; i += 3) out.push(...p.push(wire.slice(i, i + 3)));
    assert.equal(out.length, 1);
    assert.equal(out[0].code, code);
    assert.equal(out[0].lines.length, clean.length);
  }));
});

test('reply parser: continuation styles, garbage, size bound', () => {
  const p = new ReplyParser();
  const r = p.push('230-Welcome\r\n230-more\r\nplain\r\n230 done\r\n');
  assert.deepEqual(r, [{ code: 230, lines: ['Welcome', 'more', 'plain', 'done'] }]);
  assert.deepEqual(new ReplyParser().push('junk\r\n200 ok\n'), [{ code: 200, lines: ['ok'] }]);
  const small = new ReplyParser(100);
  assert.throws(() => small.push('211-x\r\n' + 'y'.repeat(200) + '\r\n'));
});

test('command lines: split across chunks, CR/LF variants, IAC, limits', () => {
  const s = new CommandLineSplitter(50);
  const ev = [...s.push(Buffer.from('US')), ...s.push(Buffer.from('ER a\r\nNOOP\nPWD\r')), ...s.push(Buffer.from('\nSYST\r\n'))];
  assert.deepEqual(ev.map((e) => e.line), ['USER a', 'NOOP', 'PWD', 'SYST']);
  // ABOR sent with MSG_OOB loses its LF on Linux: a bare CR still ends the line.
  assert.deepEqual(new CommandLineSplitter().push(Buffer.from('ABOR\rNOOP\r\n')).map((e) => e.line), ['ABOR', 'NOOP']);
  const iac = new CommandLineSplitter().push(Buffer.from([0xff, 0xf4, 0xff, 0xf2, 0x41, 0x42, 0x4f, 0x52, 0x0d, 0x0a]));
  assert.deepEqual(iac, [{ kind: 'line', line: 'ABOR', urgent: true }]);
  // UTF-8 split mid-character across chunks.
  const u = new CommandLineSplitter();
  const bytes = Buffer.from('CWD 日本\r\n');
  assert.deepEqual([...u.push(bytes.subarray(0, 6)), ...u.push(bytes.subarray(6))].map((e) => e.line), ['CWD 日本']);
  const long = new CommandLineSplitter(10).push(Buffer.from('x'.repeat(100) + '\r\nNOOP\r\n'));
  assert.deepEqual(long.map((e) => e.kind), ['too-long', 'line']);
  assert.equal(new CommandLineSplitter().push(Buffer.from('A\0B\r\n'))[0].kind, 'invalid');
  assert.equal(new CommandLineSplitter().push(Buffer.from([0xc3, 0x28, 0x0a]))[0].kind, 'invalid');
  assert.deepEqual(parseCommandLine('  stor  my file.txt'), { verb: 'STOR', arg: ' my file.txt' });
  assert.deepEqual(parseCommandLine('noop'), { verb: 'NOOP', arg: '' });
  assert.throws(() => formatCommand('RETR', 'a\r\nDELE b'));
});

test('command splitter never throws and never emits a line over the limit (random bytes)', () => {
  fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }), (chunks) => {
    const s = new CommandLineSplitter(128);
    for (const c of chunks) {
      for (const e of s.push(Buffer.from(c))) {
        if (e.kind === 'line') {
          assert.ok(Buffer.byteLength(e.line) <= 128);
          assert.ok(!/[\r\n\0]/.test(e.line));
        }
      }
    }
  }), { numRuns: 300 });
});

test('PORT/PASV encode and decode', () => {
  assert.equal(encodeHostPort({ host: '192.168.1.2', port: 54921 }), '192,168,1,2,214,137');
  assert.deepEqual(decodeHostPort('9,99,99,88,214,137'), { host: '9.99.99.88', port: 54921 });
  assert.deepEqual(parsePasvReply('Entering Passive Mode (130,206,13,2,160,131).'), { host: '130.206.13.2', port: 41091 });
  assert.deepEqual(parsePasvReply('=127,0,0,1,4,1'), { host: '127.0.0.1', port: 1025 });
  for (const bad of ['', '1,2,3,4,5', '1,2,3,4,5,6,7', '256,0,0,1,1,1', '1,2,3,4,0,0', 'a,b,c,d,e,f', '-1,2,3,4,5,6', '1,2,3,4,5,1000']) {
    assert.equal(decodeHostPort(bad), undefined, bad);
  }
  fc.assert(fc.property(fc.ipV4(), fc.integer({ min: 1, max: 65535 }), (host, port) => {
    assert.deepEqual(parsePasvReply(formatPasvReply({ host, port })), { host, port });
  }));
  fc.assert(fc.property(fc.string(), (s) => { decodeHostPort(s); parsePasvReply(s); }));
  assert.equal(normalizeIp('::ffff:10.1.2.3'), '10.1.2.3');
});

test('EPRT/EPSV encode and decode, IPv4 and IPv6', () => {
  assert.equal(encodeEprt({ host: '132.235.1.2', port: 6275 }), '|1|132.235.1.2|6275|');
  assert.deepEqual(decodeEprt('|2|1080::8:800:200C:417A|5282|'), { host: '1080::8:800:200C:417A', port: 5282 });
  assert.deepEqual(decodeEprt('!1!10.0.0.1!21!'), { host: '10.0.0.1', port: 21 });
  assert.deepEqual(decodeEprt('|3|x|1|'), { error: 'family' });
  for (const bad of ['|1|1.2.3.4|', '|1|::1|80|', '|2|1.2.3.4|80|', '|1|1.2.3.4|0|', '|1|1.2.3.4|70000|', '1|1.2.3.4|80|', '']) {
    assert.ok('error' in decodeEprt(bad), bad);
  }
  assert.equal(parseEpsvReply(formatEpsvReply(6446)), 6446);
  assert.equal(parseEpsvReply('Entering Extended Passive Mode (!!!6446!)'), 6446);
  assert.equal(parseEpsvReply('229 (|||0|)'), undefined);
  fc.assert(fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), fc.integer({ min: 1, max: 65535 }), (host, port) => {
    // Addresses go out in their one canonical spelling, which decodes to the same address.
    assert.deepEqual(decodeEprt(encodeEprt({ host, port })), { host: normalizeIp(host), port });
    assert.equal(normalizeIp(normalizeIp(host)), normalizeIp(host));
  }));
  assert.equal(normalizeIp('0:0:0:0:0:0:0:1'), '::1');
  assert.equal(normalizeIp('::FFFF:7f00:1'), '127.0.0.1');
  assert.equal(normalizeIp('FE80:0::1%eth0'), 'fe80::1%eth0');
  fc.assert(fc.property(fc.string(), (s) => { decodeEprt(s); parseEpsvReply(s); }));
  assert.ok(isPrivateOrUnroutable('10.0.0.5') && isPrivateOrUnroutable('192.168.0.1') && isPrivateOrUnroutable('fe80::1'));
  assert.ok(!isPrivateOrUnroutable('8.8.8.8') && !isPrivateOrUnroutable('2001:db8::1'));
});

test('virtual paths never rise above the root (random segments)', () => {
  assert.equal(resolveVirtual('/a/b', '../../../etc/passwd'), '/etc/passwd');
  assert.equal(resolveVirtual('/a', '..\\..\\x'), '/x');
  assert.equal(resolveVirtual('/a', '/b//c/./d/'), '/b/c/d');
  assert.equal(resolveVirtual('/', 'a\0b'), undefined);
  const seg = fc.oneof(fc.constantFrom('..', '.', '', '...', '\\..', '..\\'), fc.string({ maxLength: 5 }));
  fc.assert(fc.property(fc.array(seg, { maxLength: 12 }), fc.array(seg, { maxLength: 12 }), (cwdSegs, argSegs) => {
    const cwd = resolveVirtual('/', cwdSegs.join('/'));
    if (cwd === undefined) return;
    const r = resolveVirtual(cwd, argSegs.join('/'));
    if (r === undefined) return;
    assert.ok(r.startsWith('/'));
    assert.ok(!r.split('/').includes('..'), r);
    assert.ok(!r.includes('//'), r);
    assert.ok(!r.includes('\\'), r);
  }), { numRuns: 500 });
  assert.equal(quotePath('/a "b"'), '"/a ""b"""');
  fc.assert(fc.property(fc.string(), (p) => { assert.equal(unquotePath(`257 ${quotePath(p)} created`), p); }));
  // Pure-FTPd does not double inner quotes: the path then runs to the last quote before the comment.
  assert.equal(unquotePath('"/say "hi"" is your current location'), '/say "hi"');
  assert.equal(unquotePath('"/we"ird" is your current location'), '/we"ird');
  assert.equal(unquotePath('"/plain" is your current location'), '/plain');
});

test('listings: ls -l lines, time-vals and MLSx facts', () => {
  const now = Date.UTC(2026, 10, 24, 12, 0, 0);
  const recent = formatListLine({ name: 'a.txt', type: 'file', size: 1234, modified: new Date(Date.UTC(2026, 10, 1, 9, 5)), mode: 0o644 }, now);
  assert.match(recent, /^-rw-r--r-- +1 ftp +ftp +1234 Nov  1 09:05 a\.txt$/);
  const old = formatListLine({ name: 'd', type: 'dir', size: 0, modified: new Date(Date.UTC(2019, 0, 15)), mode: 0o755 }, now);
  assert.match(old, /^drwxr-xr-x .* Jan 15  2019 d$/);
  assert.equal(formatTimeVal(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 60))), '20260102030405.060');
  assert.equal(parseTimeVal('20260102030405').toISOString(), '2026-01-02T03:04:05.000Z');
  for (const bad of ['2026', '20261302030405', '20260230000000', 'abcdefghijklmn', '20260102030405.']) assert.equal(parseTimeVal(bad), undefined, bad);
  const facts = formatMlsxLine({ name: 'f', type: 'file', size: 3, modified: new Date(0), mode: 0o600, unique: 'x1' },
    new Set(MLST_FACTS), { read: true, write: false, modify: false });
  assert.equal(facts, 'type=file;size=3;modify=19700101000000;perm=r;unique=x1;unix.mode=0600; f');
  assert.deepEqual([...selectFacts('Type;SIZE;bogus;')], ['type', 'size']);
});

test('listing dates are right entry after entry, whether the next entry shares the last one\'s minute or second or not', () => {
  const MON = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const now = Date.UTC(2026, 10, 24, 12, 0, 0);
  // Runs of nearby times (same second, same minute, next minute) mixed with far ones, before 1970 too.
  const time = fc.oneof(
    fc.integer({ min: now - 200_000, max: now + 1000 }),
    fc.integer({ min: -30_000_000_000_000, max: 30_000_000_000_000 }),
    fc.constantFrom(0, -1, 999, 1000, now - 182 * 86_400_000, now - 182 * 86_400_000 + 1));
  fc.assert(fc.property(fc.array(time, { minLength: 1, maxLength: 40 }), (times) => {
    for (const t of times) {
      const d = new Date(t);
      const iso = d.toISOString(); // independent of the formatter: YYYY-MM-DDTHH:MM:SS.sssZ, or ±YYYYYY-... far out
      const m = /^([+-]\d{6}|\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{3})Z$/.exec(iso);
      const [, y, mo, day, h, mi, sec, ms] = m;
      if (/^\d{4}$/.test(y)) assert.equal(formatTimeVal(d), `${y}${mo}${day}${h}${mi}${sec}${ms === '000' ? '' : '.' + ms}`, iso);
      const recent = Math.abs(now - t) < 182 * 86_400_000;
      const date = `${MON[Number(mo) - 1]} ${String(Number(day)).padStart(2, ' ')} ${recent ? `${h}:${mi}` : ` ${d.getUTCFullYear()}`}`;
      const line = formatListLine({ name: 'n', type: 'file', size: 1, modified: d, mode: 0o640 }, now);
      assert.equal(line, `-rw-r-----    1 ftp      ftp                 1 ${date} n`, iso);
    }
  }), { numRuns: 300 });
});

test('TYPE A transforms are exact across chunk boundaries and inverse of each other', async () => {
  const through = async (T, chunks) => {
    const t = new T();
    const out = [];
    t.on('data', (d) => out.push(d));
    for (const c of chunks) t.write(c);
    t.end();
    await new Promise((r) => t.on('end', r));
    return Buffer.concat(out);
  };
  assert.equal((await through(LfToCrlf, [Buffer.from('a\nb\r'), Buffer.from('\nc\n')])).toString(), 'a\r\nb\r\nc\r\n');
  assert.equal((await through(CrlfToLf, [Buffer.from('a\r'), Buffer.from('\nb\rc\r')])).toString(), 'a\nb\rc\r');
  await fc.assert(fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 8 }), async (chunks) => {
    const lfOnly = chunks.map((c) => Buffer.from(c.filter((b) => b !== 0x0d)));
    const wire = await through(LfToCrlf, lfOnly);
    const back = await through(CrlfToLf, [wire.subarray(0, 7), wire.subarray(7)]);
    assert.deepEqual(back, Buffer.concat(lfOnly));
  }), { numRuns: 200 });
});

test('wildcards: * and ? match as a regular expression would, on any names', () => {
  const reference = (pattern, name) => new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's').test(name);
  const text = (chars, max) => fc.array(fc.constantFrom(...chars), { maxLength: max }).map((a) => a.join(''));
  fc.assert(fc.property(text(['a', 'b', '*', '?', '.'], 12), text(['a', 'b', '.', '*', '?'], 16), (pattern, name) => {
    assert.equal(globMatch(pattern, name), reference(pattern, name), `${JSON.stringify(pattern)} ~ ${JSON.stringify(name)}`);
  }), { numRuns: 5000 });
  for (const [pattern, name, want] of [['*.txt', 'notes.txt', true], ['*.txt', 'notes.txt.bak', false], ['IMG_????.jpg', 'IMG_0042.jpg', true],
    ['IMG_????.jpg', 'IMG_042.jpg', false], ['*', '', true], ['', '', true], ['?', '', false], ['a**b', 'ab', true], ['é*', 'été', true]]) {
    assert.equal(globMatch(pattern, name), want, `${pattern} ~ ${name}`);
  }
});

test('wildcards: patterns built to make a backtracking matcher explode are answered in bounded steps', () => {
  const name = 'a'.repeat(255);
  // Counting work, not timing it: a pattern of MAX_GLOB characters against a 255-character name
  // must not take more comparisons than name length x pattern length.
  let calls = 0;
  const counted = new Proxy(String.prototype.charCodeAt, { apply: (f, self, args) => { calls++; return Reflect.apply(f, self, args); } });
  const original = String.prototype.charCodeAt;
  for (const pattern of ['*?'.repeat(MAX_GLOB / 2 - 1) + '!', '*a'.repeat(MAX_GLOB / 2 - 1) + 'b', '*' + 'a'.repeat(MAX_GLOB - 2) + 'b', 'a*'.repeat(MAX_GLOB / 2 - 1) + 'b']) {
    calls = 0;
    String.prototype.charCodeAt = counted;
    let matched;
    try { matched = globMatch(pattern, name); } finally { String.prototype.charCodeAt = original; }
    assert.equal(matched, false);
    assert.ok(calls > 0, 'the steps were counted');
    assert.ok(calls <= 4 * name.length * pattern.length, `${pattern.slice(0, 12)}...: ${calls} steps`);
  }
});

test('time-vals: years before 100 are those years, and format back with four digits', () => {
  for (const text of ['00500101000000', '00010228235959', '09991231000000', '20240229120000', '99991231235959']) {
    const d = parseTimeVal(text);
    assert.ok(d, text);
    assert.equal(d.getUTCFullYear(), Number(text.slice(0, 4)));
    assert.equal(formatTimeVal(d), text);
  }
  assert.equal(parseTimeVal('00010229000000'), undefined, 'year 1 is no leap year');
  assert.equal(parseTimeVal('20230229000000'), undefined);
});
