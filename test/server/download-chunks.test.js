// Plain binary downloads: every byte arrives, and chunks grow only while the client waits on our reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LocalStorage } from '../../dist/index.js';
import { startServer, USER, PASSWORD } from '../helpers/server.js';
import { RawClient, collect } from '../helpers/raw-client.js';

const MiB = 1024 * 1024;
const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');

/** Local storage whose reads take `delayMs` each and are recorded: the disk is slower than the socket. */
class SlowReads extends LocalStorage {
  constructor(root, delayMs) { super(root); this.delayMs = delayMs; this.biggest = 0; this.reads = 0; }
  async openReader(p) {
    const r = await super.openReader(p);
    const read = async (buffer, length, position) => {
      this.reads++;
      this.biggest = Math.max(this.biggest, length);
      await sleep(this.delayMs);
      return r.read(buffer, length, position);
    };
    return { size: r.size, read, close: () => r.close() };
  }
}

async function withServer(fn) {
  let disk;
  const srv = await startServer({ storage: () => (disk ??= new SlowReads(srv.root, 10)) });
  try {
    const c = await RawClient.connect(srv.port);
    await c.login(USER, PASSWORD);
    await c.cmd('TYPE I');
    await fn({ c, srv, disk: () => disk });
    await c.cmd('QUIT');
  } finally { await srv.stop(); }
}

test('a client faster than the disk gets 4 MiB chunks after a while, and every byte in order', () => withServer(async ({ c, srv, disk }) => {
  const data = crypto.randomBytes(48 * MiB + 5);
  await fs.writeFile(path.join(srv.root, 'fast.bin'), data);
  const d = await c.passive('EPSV');
  const got = collect(d);
  assert.equal((await c.cmd('RETR fast.bin')).code, 150);
  assert.equal(sha(await got), sha(data));
  assert.equal((await c.read(30_000)).code, 226);
  assert.equal(disk().biggest, 4 * MiB, `largest read ${disk().biggest} bytes over ${disk().reads} reads`);
  // A REST offset and a file just over one chunk: the last, short read is sent as it is.
  for (const [name, size, offset] of [['rest.bin', 20 * MiB + 3, 7 * MiB + 1], ['small.bin', MiB + 1, 0]]) {
    const body = crypto.randomBytes(size);
    await fs.writeFile(path.join(srv.root, name), body);
    if (offset) assert.equal((await c.cmd(`REST ${offset}`)).code, 350);
    const e = await c.passive('EPSV');
    const part = collect(e);
    assert.equal((await c.cmd(`RETR ${name}`)).code, 150);
    assert.equal(sha(await part), sha(body.subarray(offset)), name);
    assert.equal((await c.read(30_000)).code, 226);
  }
}));

test('a slow client keeps 1 MiB chunks and still gets every byte', () => withServer(async ({ c, srv, disk }) => {
  const data = crypto.randomBytes(24 * MiB + 9);
  await fs.writeFile(path.join(srv.root, 'slow.bin'), data);
  const d = await c.passive('EPSV');
  d.pause();
  assert.equal((await c.cmd('RETR slow.bin')).code, 150);
  // At most 256 KiB every 8 ms (32 MB/s), bounded in rounds.
  const chunks = [];
  let have = 0;
  const ended = new Promise((resolve) => d.once('end', resolve));
  for (let i = 0; i < 2000 && have < data.length; i++) {
    await sleep(8);
    const piece = d.read(Math.min(256 * 1024, data.length - have));
    if (piece) { chunks.push(piece); have += piece.length; }
  }
  d.resume();
  d.on('data', (piece) => chunks.push(piece));
  await ended;
  assert.equal(sha(Buffer.concat(chunks)), sha(data));
  assert.equal((await c.read(30_000)).code, 226);
  assert.ok(disk().biggest <= MiB, `largest read ${disk().biggest} bytes`);
}));
