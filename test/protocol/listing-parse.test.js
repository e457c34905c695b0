// The client's listing parsers on listings as real servers print them, and on hostile input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseListing, parseUnixLine, parseDosLine, parseMlsxLine } from '../../dist/protocol/listing-parse.js';

const NOW = new Date(Date.UTC(2026, 10, 25, 12, 0, 0)); // 25 Nov 2026
const pick = (e) => ({ name: e.name, type: e.type, size: e.size, modified: e.modified?.toISOString(), ...(e.target ? { target: e.target } : {}) });

test('vsftpd LIST: numeric owners, recent times and old years, a symlink, no total line', () => {
  const text = [
    'drwxr-xr-x    2 1000     1000         4096 Mar 05 14:02 incoming',
    '-rw-r--r--    1 ftp      ftp      5368709120 Mar 05  2019 disk image.iso',
    'lrwxrwxrwx    1 0        0               7 Nov 20 09:15 latest -> v2.1.0',
    '-rw-------    1 1000     1000            0 Dec 31 23:59 new-year.txt',
  ].join('\r\n') + '\r\n';
  assert.deepEqual(parseListing(text, NOW).map(pick), [
    { name: 'incoming', type: 'dir', size: 4096, modified: '2026-03-05T14:02:00.000Z' },
    { name: 'disk image.iso', type: 'file', size: 5368709120, modified: '2019-03-05T00:00:00.000Z' },
    { name: 'latest', type: 'link', size: 7, modified: '2026-11-20T09:15:00.000Z', target: 'v2.1.0' },
    // Dec 31 is in the future on 25 Nov: last year's.
    { name: 'new-year.txt', type: 'file', size: 0, modified: '2025-12-31T23:59:00.000Z' },
  ]);
});

test('ProFTPD / Pure-FTPd LIST: total line, names with spaces, setuid and sticky bits, ACL markers', () => {
  const text = [
    'total 20',
    'drwxrwxrwt   2 ftp      ftp          4096 Jan  2 03:04 tmp',
    '-rwsr-xr-x   1 root     root        12345 Feb 28  2024 run me',
    '-rw-r--r--+  1 alice    staff          10 Nov 24 18:30   leading spaces.txt',
    '-rw-r--r--.  1 alice    staff          11 Oct  1 07:00 selinux.txt',
    'crw-rw-rw-   1 root     root       1,   3 Sep  9  2020 null',
    'drwxr-xr-x   3 bob      bob          4096 Nov 25 10:00 .',
    'drwxr-xr-x   3 bob      bob          4096 Nov 25 10:00 ..',
  ].join('\n');
  const entries = parseListing(text, NOW);
  assert.deepEqual(entries.map(pick), [
    { name: 'tmp', type: 'dir', size: 4096, modified: '2026-01-02T03:04:00.000Z' },
    { name: 'run me', type: 'file', size: 12345, modified: '2024-02-28T00:00:00.000Z' },
    { name: '  leading spaces.txt', type: 'file', size: 10, modified: '2026-11-24T18:30:00.000Z' },
    { name: 'selinux.txt', type: 'file', size: 11, modified: '2026-10-01T07:00:00.000Z' },
    { name: 'null', type: 'other', size: 0, modified: '2020-09-09T00:00:00.000Z' },
  ]);
  assert.equal(entries[0].mode, 0o1777);
  assert.equal(entries[1].mode, 0o4755);
  assert.equal(entries[1].owner, 'root');
  assert.equal(entries[2].group, 'staff');
});

test('FileZilla Server and servers without a link count or group', () => {
  assert.deepEqual(pick(parseUnixLine('-rw-r--r-- 1 ftp ftp        1048576 Aug 14 16:45 report.pdf', NOW)),
    { name: 'report.pdf', type: 'file', size: 1048576, modified: '2026-08-14T16:45:00.000Z' });
  assert.deepEqual(pick(parseUnixLine('drwxr-xr-x   folder        0 Jul  4  2023 archive', NOW)),
    { name: 'archive', type: 'dir', size: 0, modified: '2023-07-04T00:00:00.000Z' });
});

test('IIS / Windows: 12-hour and 24-hour clocks, two- and four-digit and ISO dates', () => {
  const text = [
    '02-13-21  03:48PM       <DIR>          Program Files',
    '02-13-21  12:05AM                 1234 midnight.txt',
    '11-25-2026  09:30                  99 twentyfour.log',
    '2021-02-13  15:48               2048 iso date.bin',
  ].join('\r\n');
  assert.deepEqual(parseListing(text, NOW).map(pick), [
    { name: 'Program Files', type: 'dir', size: 0, modified: '2021-02-13T15:48:00.000Z' },
    { name: 'midnight.txt', type: 'file', size: 1234, modified: '2021-02-13T00:05:00.000Z' },
    { name: 'twentyfour.log', type: 'file', size: 99, modified: '2026-11-25T09:30:00.000Z' },
    { name: 'iso date.bin', type: 'file', size: 2048, modified: '2021-02-13T15:48:00.000Z' },
  ]);
  assert.equal(parseDosLine('13-45-21  03:48PM  1 impossible-date'), undefined);
});

test('ls -l with ISO dates (GNU ls under many locales, as netkit ftpd runs it): entries are not dropped', () => {
  const text = [
    'total 3',
    '-rw-r--r--    1 user     group          12 2026-11-20 09:15 long iso',
    '-rw-r--r--    1 user     group          12 2026-11-20 09:15:07.123456789 +0100 full iso',
    'drwxr-xr-x 2 user group 4096 2024-01-02 03:04  lead',
    'lrwxrwxrwx 1 u g 4 2024-01-02 03:04 l -> t',
    'crw-rw-rw- 1 root root 1, 3 2024-01-02 03:04 null',
  ].join('\n');
  assert.deepEqual(parseListing(text, NOW).map(pick), [
    { name: 'long iso', type: 'file', size: 12, modified: '2026-11-20T09:15:00.000Z' },
    { name: 'full iso', type: 'file', size: 12, modified: '2026-11-20T08:15:07.000Z' },
    { name: ' lead', type: 'dir', size: 4096, modified: '2024-01-02T03:04:00.000Z' },
    { name: 'l', type: 'link', size: 4, modified: '2024-01-02T03:04:00.000Z', target: 't' },
    { name: 'null', type: 'other', size: 0, modified: '2024-01-02T03:04:00.000Z' },
  ]);
  // A classic line whose name looks like an ISO date stays a classic line.
  assert.equal(parseUnixLine('-rw-r--r-- 1 u g 12 Nov 20 09:15 2026-11-20 09:15 x', NOW).name, '2026-11-20 09:15 x');
});

test('IIS: a name that starts with spaces keeps them (names sit at column 39, or 41 with 4-digit years)', () => {
  const text = [
    '02-12-26  07:01PM       <DIR>          folder',
    '02-12-26  07:01PM       <DIR>            two lead',
    '02-12-26  07:01PM                 1234 file.txt',
    '02-12-26  07:01PM                 1234   sp.txt',
    '02-12-2026  07:01PM                 1234  four-digit.txt',
  ].join('\r\n');
  assert.deepEqual(parseListing(text, NOW).map((e) => [e.name, e.type]), [
    ['folder', 'dir'], ['  two lead', 'dir'], ['file.txt', 'file'], ['  sp.txt', 'file'], [' four-digit.txt', 'file'],
  ]);
  // Other DOS-like layouts (not IIS's columns) keep the name after the blanks, as before.
  assert.equal(parseDosLine('01-15-24  03:04PM  1234 other').name, 'other');
  assert.equal(parseDosLine('02-12-26  07:01PM 123456789012345678901 big').name, 'big');
});

test('MLSD from several servers: fact order and case, cdir/pdir dropped, symlinks, spaces in names', () => {
  const text = [
    'type=cdir;modify=20261125100000;perm=flcdmpe; .',
    'type=pdir;modify=20261125100000;perm=flcdmpe; ..',
    'Type=file;Size=4096;Modify=20261124183000.123;Perm=adfrw; a file.txt',
    'modify=20200101000000;perm=el;type=dir;unique=801g2; sub',
    'type=OS.unix=symlink;size=7;modify=20261120091500; latest',
    'type=OS.unix=slink:/srv/target;modify=20261120091500; proftpd-link',
    'size=12;type=file;unix.mode=0640;unix.owner=33;modify=20261101000000;  leading space',
  ].join('\r\n');
  const entries = parseListing(text, NOW);
  assert.deepEqual(entries.map(pick), [
    { name: 'a file.txt', type: 'file', size: 4096, modified: '2026-11-24T18:30:00.123Z' },
    { name: 'sub', type: 'dir', size: 0, modified: '2020-01-01T00:00:00.000Z' },
    { name: 'latest', type: 'link', size: 7, modified: '2026-11-20T09:15:00.000Z' },
    { name: 'proftpd-link', type: 'link', size: 0, modified: '2026-11-20T09:15:00.000Z', target: '/srv/target' },
    { name: ' leading space', type: 'file', size: 12, modified: '2026-11-01T00:00:00.000Z' },
  ]);
  assert.equal(entries[1].unique, '801g2');
  assert.equal(entries[4].mode, 0o640);
  assert.deepEqual(parseMlsxLine(' type=file;size=1; x').name, 'x', 'MLST lines start with a space');
});

test('garbage and banners are skipped, never thrown on', () => {
  const text = [
    '', '   ', 'Welcome to the server', '226 Transfer complete', '-rw-r--r-- 1 a b x Jan 1 2020 bad-size',
    'drwxr-xr-x 2 a b 0 Foo 1 2020 bad-month', `${'a'.repeat(100_000)}`, 'type=file;size=abc; weird-size',
    '\u0000\u0001\u0002', '-rw-r--r-- 1 a b 5 Jan 1 2020 ok.txt',
  ].join('\n');
  const entries = parseListing(text, NOW);
  // A month the parser does not know (a localised listing) keeps the entry, without a date.
  assert.deepEqual(entries.map((e) => [e.name, e.modified?.toISOString()]), [['bad-month', undefined], ['weird-size', undefined], ['ok.txt', '2020-01-01T00:00:00.000Z']]);
  assert.equal(entries[1].size, 0, 'a size that is not a number counts as unknown (0)');
});

test('property: any text parses without throwing, and no entry is called . or ..', () => {
  fc.assert(fc.property(fc.array(fc.oneof(fc.string(), fc.constantFrom(
    '-rw-r--r-- 1 a b 5 Jan 1 2020 ', 'type=file;size=1; ', '01-01-20  01:00AM  5 ', 'drwxr-xr-x 2 a b 0 Jan 1 12:00 ..',
  )), { maxLength: 20 }), (lines) => {
    const entries = parseListing(lines.join('\r\n'), NOW);
    for (const e of entries) {
      assert.ok(e.name !== '.' && e.name !== '..');
      assert.ok(Number.isFinite(e.size));
    }
  }), { numRuns: 300 });
});
