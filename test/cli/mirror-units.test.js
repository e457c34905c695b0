// Pure pieces behind `wharf mirror` and the client's messages: URL passwords never quoted, and
// times compared at the precision the listing gives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFtpUrl, redactUrl } from '../../dist/client/url.js';
import { redactSecrets, parseUrl } from '../../dist/cli/client-connect.js';
import { compareTimes, listedPrecision } from '../../dist/client/mirror.js';
import { parseListing } from '../../dist/protocol/listing-parse.js';

test('a URL that does not parse is quoted without its password', () => {
  for (const [text, message] of [
    ['ftp://u:sekrit@/x', /^not a URL: ftp:\/\/u:\*\*\*\*@\/x$/],
    ['ftp://u:sek/rit@host/x', /^not a URL: ftp:\/\/u:\*\*\*\*@host\/x$/],
    ['ftp://u:sekrit%ZZ@host/', /^bad %-escape in the password of ftp:\/\/u:\*\*\*\*@host\/$/],
  ]) {
    assert.throws(() => parseFtpUrl(text), (err) => message.test(err.message) && !/sek/.test(err.message), text);
    assert.throws(() => parseUrl(text), (err) => err.exitCode === 2 && !/sek/.test(err.message), text);
  }
});

test('redactUrl: the password goes, whatever it holds; the rest stays', () => {
  assert.equal(redactUrl('ftp://u:p@ss@h/'), 'ftp://u:****@h/');
  assert.equal(redactUrl('ftpes://alice:a b/c?d#e@host:21/dir'), 'ftpes://alice:****@host:21/dir');
  assert.equal(redactUrl('ftp://me@example.com:pw@host/'), 'ftp://me@example.com:****@host/');
  assert.equal(redactUrl('ftp:/u:pw@h/x'), 'ftp:****@h/x', 'path.join folds // into /');
  assert.equal(redactUrl('u:pw@h'), 'u:****@h');
  for (const plain of ['ftp://host/a@b', 'ftp://u@h/x', 'ftp://h:21/x', 'not a url']) assert.equal(redactUrl(plain), plain);
});

test('redactSecrets: URLs inside a message, and the known password anywhere', () => {
  assert.equal(redactSecrets("ENOENT: no such file or directory, stat 'ftp://u:sekrit@h/x'"), "ENOENT: no such file or directory, stat 'ftp://u:****@h/x'");
  assert.equal(redactSecrets('ftp:/u:sekrit@h/x: no such folder'), 'ftp:****@h/x: no such folder');
  assert.equal(redactSecrets('530 bad password s3cr3t w0rd', ['s3cr3t w0rd']), '530 bad password ****');
  assert.equal(redactSecrets('in a path: s3cr3t%20w0rd', ['s3cr3t w0rd']), 'in a path: ****');
  assert.equal(redactSecrets('a b c', ['a', undefined, '']), 'a b c', 'too short to hide anything');
});

test('listedPrecision: MLSD to the second, ls -l to the minute or the day, DOS to the minute', () => {
  const now = new Date(Date.UTC(2026, 5, 15));
  const [mlsd, recent, old, seconds, dos] = parseListing([
    'type=file;size=1;modify=20260101120000; a',
    '-rw-r--r--    1 ftp      ftp             1 Jun 01 14:43 b',
    '-rw-r--r--    1 ftp      ftp             1 Jan 05  2024 c',
    '-rw-r--r--    1 ftp      ftp             1 Jun 01 14:43:07 d',
    '06-01-26  02:43PM                    1 e',
  ].join('\r\n'), now);
  assert.deepEqual([mlsd, recent, old, seconds, dos].map((e) => e.name), ['a', 'b', 'c', 'd', 'e']);
  assert.deepEqual([mlsd, recent, old, seconds, dos].map(listedPrecision), [1000, 60_000, 86_400_000, 1000, 60_000]);
  assert.equal(listedPrecision({ name: 'x', type: 'file', size: 0 }), 1000);
});

test('compareTimes: a listed minute is a range; the copy is current, older, or it is not known yet', () => {
  const t = Date.UTC(2026, 11, 2, 14, 43);
  const exactly = (ms) => ({ lo: ms, hi: ms + 1 });
  const minute = { lo: t, hi: t + 60_000 };
  // Upload to vsftpd: written at :10.5, the copy listed as "14:43": cannot tell without MDTM.
  assert.equal(compareTimes(exactly(t + 10_500), minute), 'unsure');
  assert.equal(compareTimes(exactly(t - 1), minute), 'current', 'the source is older than the whole minute');
  assert.equal(compareTimes(exactly(t + 60_000), minute), 'older', 'the source is newer than the whole minute');
  // Download: the copy carries a time to the second; the source is the listed minute.
  assert.equal(compareTimes(minute, exactly(t + 59_000)), 'current');
  assert.equal(compareTimes(minute, exactly(t + 1_000)), 'unsure');
  assert.equal(compareTimes(minute, exactly(t - 1_000)), 'older');
  // To the second, as before: milliseconds do not count.
  assert.equal(compareTimes(exactly(t + 1_999), exactly(t + 1_000)), 'current');
  assert.equal(compareTimes(exactly(t + 2_000), exactly(t + 1_999)), 'older');
  assert.equal(compareTimes({ lo: t, hi: t + 1000 }, exactly(t)), 'current');
});
