// Pure pieces of the client CLI: .netrc parsing, credential order, shell word splitting,
// Tab completion and the progress line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseNetrc, resolveCredentials } from '../../dist/cli/credentials.js';
import { splitWords, completeLine } from '../../dist/cli/shell.js';
import { renderProgress, formatBytes } from '../../dist/cli/progress-bar.js';
import { remotePathOf, parseUrl } from '../../dist/cli/client-connect.js';
import { printable, printableLines } from '../../dist/cli/terminal-text.js';

test('parseNetrc: machines, default, one-line and multi-line entries, macdef skipped, comments', () => {
  const text = [
    '# my hosts',
    'machine ftp.example.com login alice password s3cret',
    'macdef init',
    'binary',
    'machine not-a-real-entry login x password y',
    '',
    'machine files.example.org',
    '    login bob',
    '    account ignored',
    '    password "p"',
    'default login anonymous password me@example.com',
  ].join('\n');
  assert.deepEqual(parseNetrc(text), [
    { machine: 'ftp.example.com', login: 'alice', password: 's3cret' },
    { machine: 'files.example.org', login: 'bob', password: '"p"' },
    { machine: undefined, login: 'anonymous', password: 'me@example.com' },
  ]);
  assert.deepEqual(parseNetrc(''), []);
  assert.deepEqual(parseNetrc('login orphan password nowhere\nmachine'), [{ machine: undefined }]);
});

test('resolveCredentials: URL, then environment, then .netrc, then anonymous', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-netrc-'));
  const netrcPath = path.join(dir, 'netrc');
  await fs.writeFile(netrcPath, 'machine h1 login nina password from-netrc\ndefault login dflt password dpw\n');
  try {
    const base = { host: 'h1', netrcPath, env: {} };
    assert.deepEqual(resolveCredentials({ ...base, urlUser: 'u', urlPassword: 'p' }), { user: 'u', password: 'p', source: 'url' });
    assert.deepEqual(resolveCredentials({ ...base, urlUser: 'u', env: { WHARF_PASSWORD: 'e' } }), { user: 'u', password: 'e', source: 'env' });
    assert.deepEqual(resolveCredentials({ ...base, urlUser: 'nina' }), { user: 'nina', password: 'from-netrc', source: 'netrc' });
    assert.deepEqual(resolveCredentials({ ...base, urlUser: 'someone' }), { user: 'someone', password: undefined, source: 'url' });
    assert.deepEqual(resolveCredentials({ ...base, env: { WHARF_USER: 'w', WHARF_PASSWORD: 'x' } }), { user: 'w', password: 'x', source: 'env' });
    assert.deepEqual(resolveCredentials(base), { user: 'nina', password: 'from-netrc', source: 'netrc' });
    assert.deepEqual(resolveCredentials({ ...base, host: 'other' }), { user: 'dflt', password: 'dpw', source: 'netrc' });
    assert.deepEqual(resolveCredentials({ host: 'h', netrcPath: path.join(dir, 'missing'), env: {} }), { user: 'anonymous', password: 'anonymous@', source: 'anonymous' });
  } finally {
    await fs.rm(dir, { recursive: true });
  }
});

test('URL paths are relative to the login folder; %2F makes them absolute', () => {
  assert.equal(remotePathOf(parseUrl('ftp://h/')), '');
  assert.equal(remotePathOf(parseUrl('ftp://h/pub/a%20b.txt')), 'pub/a b.txt');
  assert.equal(remotePathOf(parseUrl('ftp://h/%2Fetc/motd')), '/etc/motd');
  assert.throws(() => parseUrl('sftp://h/'), /unsupported scheme/);
});

test('splitWords: quotes and backslashes keep spaces inside names', () => {
  assert.deepEqual(splitWords('get "my file.txt" local\\ copy.txt'), ['get', 'my file.txt', 'local copy.txt']);
  assert.deepEqual(splitWords("put 'it''s' x"), ['put', 'its', 'x']);
  assert.deepEqual(splitWords('  ls   -l  '), ['ls', '-l']);
  assert.deepEqual(splitWords('cd ""'), ['cd', '']);
  assert.deepEqual(splitWords(''), []);
});

test('completeLine: commands, then remote or local names by command', async () => {
  const remote = async (dir) => (dir === '' ? ['alpha/', 'alpine.txt', 'beta'] : dir === 'alpha/' ? ['inner.bin'] : []);
  assert.deepEqual(await completeLine('mk', remote), [['mkdir '], 'mk']);
  assert.deepEqual((await completeLine('', remote))[0].includes('get '), true);
  assert.deepEqual(await completeLine('get al', remote), [['alpha/', 'alpine.txt'], 'al']);
  assert.deepEqual(await completeLine('cd alpha/in', remote), [['alpha/inner.bin'], 'alpha/in']);
  assert.deepEqual(await completeLine('pwd x', remote), [[], 'x']);
  const here = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-complete-'));
  await fs.writeFile(path.join(here, 'local-only.txt'), '');
  try {
    assert.deepEqual(await completeLine(`put ${here}/loc`, remote), [[`${here}/local-only.txt`], `${here}/loc`]);
    // The second argument of put is the remote name.
    assert.deepEqual(await completeLine(`put ${here}/local-only.txt be`, remote), [['beta'], 'be']);
  } finally {
    await fs.rm(here, { recursive: true });
  }
});

test('renderProgress: percent, bar, rate and ETA fitted to the width', () => {
  const line = renderProgress('file.bin', { path: 'file.bin', direction: 'download', bytes: 512 * 1024, total: 1024 * 1024, rate: 256 * 1024 }, 80);
  assert.match(line, /^file\.bin \[#+\.+\]  50%  512\.0 KiB  256\.0 KiB\/s  ETA 00:02$/);
  assert.ok(line.length <= 80);
  const unknown = renderProgress('stream', { path: 's', direction: 'upload', bytes: 3 * 1024 ** 3, rate: 100 }, 80);
  assert.equal(unknown, 'stream  3.0 GiB  100 B/s');
  const narrow = renderProgress('a-very-long-file-name-that-does-not-fit.bin', { path: 'x', direction: 'download', bytes: 1, total: 2, rate: 1 }, 50);
  assert.ok(narrow.length <= 50);
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(1536), '1.5 KiB');
});

test('printable: C0 controls but tab, DEL and C1 shown as \\xNN; other text, tab and non-Latin names as they are', () => {
  assert.equal(printable('\x1b]0;title\x07\x1b[2J'), '\\x1b]0;title\\x07\\x1b[2J');
  assert.equal(printable('a\tb\nc\rd\x00\x7f\x9b\x85'), 'a\tb\\x0ac\\x0dd\\x00\\x7f\\x9b\\x85');
  assert.equal(printable('résumé 日本語 ü.txt'), 'résumé 日本語 ü.txt');
  assert.equal(printableLines('550-first\n550 \x1b[2Jlast'), '550-first\n550 \\x1b[2Jlast');
});
