// Users files as operators write them: typos refused with the entry at fault, parse errors that never quote the text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseUsersFile, UsersFileAuthenticator } from '../../dist/server/auth/users-file.js';
import { hashPassword } from '../../dist/server/auth/password-hash.js';

const HASH = await hashPassword('pw', { N: 1024, r: 8, p: 1 });

test('a misspelt field is refused, not ignored: it would give the whole root with every right', () => {
  for (const field of ['homedir', 'permisions', 'Home', 'pasword']) {
    const text = `users:\n  - username: acme\n    password: "${HASH}"\n    ${field}: x\n`;
    assert.throws(() => parseUsersFile(text, 'users.yaml', '/srv'),
      new RegExp(`users\\.yaml: user #1 \\(acme\\): unknown field '${field}'`));
  }
  const ok = parseUsersFile(`users:\n  - username: acme\n    password: "${HASH}"\n    home: partners/acme\n    permissions: [list]\n`, 'users.yaml', '/srv');
  assert.equal(ok[0].root, '/srv/partners/acme');
  assert.equal(ok[0].permissions.upload, false);
});

test('a user listed twice, or an entry that is not a mapping, is refused', () => {
  const twice = `- {username: acme, password: "${HASH}"}\n- {username: acme, password: "${HASH}", home: x}\n`;
  assert.throws(() => parseUsersFile(twice, 'u.yaml', '/'), /u\.yaml: user #2: user acme is listed twice/);
  assert.throws(() => parseUsersFile('users:\n  - acme\n', 'u.yaml', '/'), /u\.yaml: user #1: expected a mapping/);
});

test('a file that does not parse is reported by name and place, without quoting the line', () => {
  const yaml = `users:\n  - username: acme\n    password: "scrypt$16384$8$1$c2VjcmV0$aGFzaA==\n`;
  assert.throws(() => parseUsersFile(yaml, 'users.yaml', '/'), (err) => {
    assert.match(err.message, /^users\.yaml: not valid YAML at line \d+, column \d+/);
    assert.ok(!err.message.includes('scrypt'), err.message);
    return true;
  });
  assert.throws(() => parseUsersFile('{"users": [{"username": "a", "password": "Plain-Secret" x}]}', 'users.json', '/'), (err) => {
    assert.match(err.message, /^users\.json: not valid JSON at line 1, column \d+$/);
    assert.ok(!err.message.includes('Secret'), err.message);
    return true;
  });
});

test('a home folder that does not exist is logged when the file is loaded', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-users-'));
  try {
    await fs.mkdir(path.join(dir, 'there'));
    const file = path.join(dir, 'users.yaml');
    await fs.writeFile(file, `- {username: a, password: "${HASH}", home: there}\n- {username: b, password: "${HASH}", home: missing}\n`);
    const lines = [];
    const logger = { debug() {}, info() {}, error() {}, warn: (obj, msg) => lines.push({ ...obj, msg }) };
    await new UsersFileAuthenticator(file, undefined, logger).load();
    assert.deepEqual(lines.map((l) => [l.user, l.home]), [['b', path.join(dir, 'missing')]]);
    assert.match(lines[0].msg, /home folder not found/);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
