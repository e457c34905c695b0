// Storage backends: the local folder stays confined (traversal, symlinks), the in-memory one behaves alike.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LocalStorage, MemoryStorage } from '../../dist/index.js';

let dir, root, outside;
before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-storage-'));
  root = path.join(dir, 'root');
  outside = path.join(dir, 'outside');
  await fs.mkdir(path.join(root, 'in'), { recursive: true });
  await fs.mkdir(outside);
  await fs.writeFile(path.join(outside, 'secret.txt'), 'secret');
  await fs.writeFile(path.join(root, 'in', 'ok.txt'), 'ok');
  await fs.symlink(outside, path.join(root, 'escape-dir'));
  await fs.symlink(path.join(outside, 'secret.txt'), path.join(root, 'escape-file'));
  await fs.symlink(path.join(outside, 'new.txt'), path.join(root, 'dangling'));
  await fs.symlink(path.join(root, 'in', 'ok.txt'), path.join(root, 'inside-link'));
});
after(async () => { await fs.rm(dir, { recursive: true, force: true }); });

const read = async (stream) => { const c = []; for await (const x of stream) c.push(x); return Buffer.concat(c).toString(); };

test('local storage: symlinks inside the root work, those leading out are refused', async () => {
  const s = new LocalStorage(root);
  const secretMode = (await fs.stat(path.join(outside, 'secret.txt'))).mode;
  assert.equal(await read(await s.createReadStream('/inside-link')), 'ok');
  await assert.rejects(s.createReadStream('/escape-file'), { code: 'EACCES' });
  await assert.rejects(s.stat('/escape-dir/secret.txt'), { code: 'EACCES' });
  await assert.rejects(s.createWriteStream('/escape-dir/new.txt'), { code: 'EACCES' });
  await assert.rejects(s.createWriteStream('/dangling'), { code: 'EACCES' });
  await assert.rejects(s.mkdir('/escape-dir/sub'), { code: 'EACCES' });
  await assert.rejects(s.chmod('/escape-file', 0o777), { code: 'EACCES' });
  await assert.rejects(s.list('/escape-dir')[Symbol.asyncIterator]().next(), { code: 'EACCES' });
  await assert.rejects(fs.stat(path.join(outside, 'new.txt')));
  assert.equal((await fs.stat(path.join(outside, 'secret.txt'))).mode, secretMode, 'chmod through a link changed nothing outside');
  // Removing a link removes the link, never its target.
  await s.unlink('/escape-file');
  assert.equal(await fs.readFile(path.join(outside, 'secret.txt'), 'utf8'), 'secret');
  await fs.symlink(path.join(outside, 'secret.txt'), path.join(root, 'escape-file'));
});

test('local storage: listings hide where outside links lead', async () => {
  const s = new LocalStorage(root);
  const entries = [];
  for await (const e of s.list('/')) entries.push(e);
  const byName = Object.fromEntries(entries.map((e) => [e.name, e]));
  assert.equal(byName['inside-link'].type, 'file');
  assert.equal(byName['escape-dir'].type, 'link');
  assert.equal(byName['escape-dir'].target, undefined);
  assert.ok(!JSON.stringify(entries).includes(outside));
});

test('local storage: REST offset keeps the prefix and replaces the tail; beyond the end is refused', async () => {
  const s = new LocalStorage(root);
  await fs.writeFile(path.join(root, 'r.bin'), 'AAAAAAAAAA');
  const w = await s.createWriteStream('/r.bin', { start: 4 });
  await new Promise((res, rej) => w.end('bb', (e) => (e ? rej(e) : res())));
  await new Promise((r) => w.once('close', r));
  assert.equal(await fs.readFile(path.join(root, 'r.bin'), 'utf8'), 'AAAAbb');
  await assert.rejects(s.createWriteStream('/r.bin', { start: 100 }), { code: 'EINVAL' });
  await assert.rejects(s.createWriteStream('/r.bin', { exclusive: true }), { code: 'EEXIST' });
});

test('local storage: new files and folders get rw-rw-rw- and rwxrwxrwx less the umask (default 022), whatever the process umask leaves', async () => {
  const old = process.umask(0);
  try {
    const cases = [[undefined, 0o644, 0o755], [0o027, 0o640, 0o750], [0o002, 0o664, 0o775], [0o077, 0o600, 0o700]];
    for (const [umask, fileMode, dirMode] of cases) {
      const s = new LocalStorage(root, umask === undefined ? {} : { umask });
      const tag = (umask ?? 'default').toString(8);
      const w = await s.openWriter(`/mode-${tag}.txt`);
      await w.close();
      assert.equal((await fs.stat(path.join(root, `mode-${tag}.txt`))).mode & 0o777, fileMode, `file, umask ${tag}`);
      const st = await s.createWriteStream(`/stream-${tag}.txt`);
      await new Promise((res, rej) => st.end('x', (e) => (e ? rej(e) : res())));
      assert.equal((await fs.stat(path.join(root, `stream-${tag}.txt`))).mode & 0o777, fileMode, `stream, umask ${tag}`);
      await s.mkdir(`/dir-${tag}`);
      assert.equal((await fs.stat(path.join(root, `dir-${tag}`))).mode & 0o777, dirMode, `folder, umask ${tag}`);
    }
    assert.throws(() => new LocalStorage(root, { umask: 0o1000 }), /umask/);
  } finally {
    process.umask(old);
  }
});

test('memory storage: the same contract', async () => {
  const m = new MemoryStorage();
  await m.mkdir('/d');
  await assert.rejects(m.mkdir('/d'), { code: 'EEXIST' });
  const w = await m.createWriteStream('/d/f.txt');
  await new Promise((r) => w.end('hello', r));
  assert.equal((await m.stat('/d/f.txt')).size, 5);
  assert.equal(await read(await m.createReadStream('/d/f.txt', { start: 1 })), 'ello');
  await assert.rejects(m.rmdir('/d'), { code: 'ENOTEMPTY' });
  await m.rename('/d/f.txt', '/g.txt');
  await assert.rejects(m.stat('/d/f.txt'), { code: 'ENOENT' });
  await assert.rejects(m.rename('/d', '/d/inner'), { code: 'EINVAL' });
  const a = await m.createWriteStream('/g.txt', { append: true });
  await new Promise((r) => a.end('!', r));
  assert.equal(m.readFile('/g.txt').toString(), 'hello!');
  const names = [];
  for await (const e of m.list('/')) names.push(e.name);
  assert.deepEqual(names.sort(), ['d', 'g.txt']);
});

/** Every entry of `vpath` from `s`, through the batched path the server uses. */
async function listAll(s, vpath) {
  const out = [];
  for await (const batch of s.listBatches(vpath)) out.push(...batch);
  return out;
}

test('local storage: a big folder lists every entry as lstat sees it, in folder order, with or without the helper thread', async () => {
  // Several batches of 1,024, so part of each goes to the helper thread and the next batch
  // is started before the last is finished; links are spread through every batch.
  const big = path.join(root, 'big');
  await fs.mkdir(big);
  const n = 2600;
  for (let i = 0; i < n; i++) {
    const name = `e${String(i).padStart(4, '0')}`;
    if (i % 97 === 0) await fs.mkdir(path.join(big, name));
    else if (i % 101 === 0) await fs.symlink(path.join(root, 'in', 'ok.txt'), path.join(big, name));
    else if (i % 103 === 0) await fs.symlink(outside, path.join(big, name));
    else await fs.writeFile(path.join(big, name), Buffer.alloc(i % 50));
  }
  await fs.chmod(path.join(big, 'e0005'), 0o600);
  const order = [];
  for await (const d of await fs.opendir(big)) order.push(d.name);
  const direct = await listAll(new LocalStorage(root), '/big');
  const threaded = await listAll(new LocalStorage(root, { directMetadata: false }), '/big');
  assert.deepEqual(direct.map((e) => e.name), order, 'every entry, in the order the folder gives them');
  assert.deepEqual(direct, threaded, 'the same facts on both paths');
  for (const e of direct) {
    const i = Number(e.name.slice(1));
    const st = await fs.lstat(path.join(big, e.name));
    const want = i % 97 === 0 ? 'dir' : i % 101 === 0 ? 'file' : i % 103 === 0 ? 'link' : 'file';
    assert.equal(e.type, want, e.name);
    if (want === 'file' && i % 101 !== 0) {
      assert.equal(e.size, i % 50, e.name);
      assert.equal(e.mode, st.mode & 0o7777, e.name);
      assert.equal(e.modified.getTime(), st.mtime.getTime(), e.name);
      assert.equal(e.unique, `${st.dev.toString(16)}g${st.ino.toString(16)}`, e.name);
    }
  }
  assert.equal(direct.find((e) => e.name === 'e0005').mode, 0o600);
  assert.ok(!JSON.stringify(direct).includes(outside));
  await fs.rm(big, { recursive: true });
});

test('local storage: entries removed while a big folder is being listed are left out, not an error', async () => {
  const big = path.join(root, 'vanishing');
  await fs.mkdir(big);
  for (let i = 0; i < 4000; i++) await fs.writeFile(path.join(big, `f${i}`), 'x');
  const seen = [];
  let batches = 0;
  for await (const batch of new LocalStorage(root).listBatches('/vanishing')) {
    if (batches++ === 0) await fs.rm(big, { recursive: true }).then(() => fs.mkdir(big));
    seen.push(...batch);
  }
  assert.ok(batches >= 1);
  assert.ok(seen.length >= 1024 && seen.length < 4000, `listed ${seen.length}`);
  for (const e of seen) assert.ok(e.type === 'file' && e.size === 1 && e.modified instanceof Date, e.name);
  await fs.rm(big, { recursive: true });
});

test('rename with noReplace never replaces what has the new name, in both backends', async () => {
  const local = new LocalStorage(root);
  const memory = new MemoryStorage();
  for (const s of [local, memory]) {
    await s.mkdir('/nr');
    for (const [name, text] of [['a', 'first'], ['b', 'second']]) {
      const w = await s.createWriteStream(`/nr/${name}`);
      await new Promise((resolve, reject) => w.end(text, (err) => (err ? reject(err) : resolve())));
    }
    await s.mkdir('/nr/dir');
    await assert.rejects(s.rename('/nr/a', '/nr/b', { noReplace: true }), { code: 'EEXIST' });
    await assert.rejects(s.rename('/nr/dir', '/nr/b', { noReplace: true }), { code: 'EEXIST' });
    assert.equal(await read(await s.createReadStream('/nr/a')), 'first');
    assert.equal(await read(await s.createReadStream('/nr/b')), 'second');
    await s.rename('/nr/a', '/nr/c', { noReplace: true });
    await s.rename('/nr/dir', '/nr/dir2', { noReplace: true });
    assert.equal(await read(await s.createReadStream('/nr/c')), 'first');
    await assert.rejects(s.stat('/nr/a'), { code: 'ENOENT' });
    assert.equal((await s.stat('/nr/dir2')).type, 'dir');
    // Without the option, rename replaces, as rename(2) does.
    await s.rename('/nr/c', '/nr/b');
    assert.equal(await read(await s.createReadStream('/nr/b')), 'first');
  }
});
