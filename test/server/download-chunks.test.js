// Plain binary downloads: every byte arrives, and chunks grow only while the client waits on our reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import net from 'node:net';
import { LocalStorage } from '../../dist/index.js';
import { finish } from '../../dist/io/file-pump.js';
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

/** Local storage whose read at the end of a file waits until the test opens the gate. */
class HeldEnd extends LocalStorage {
  constructor(root) { super(root); this.reset(); }
  reset() {
    this.atEnd = new Promise((resolve) => { this.reachedEnd = resolve; });
    this.gate = new Promise((resolve) => { this.open = resolve; });
  }
  async openReader(p) {
    const r = await super.openReader(p);
    const read = async (buffer, length, position) => {
      if (position >= r.size) { this.reachedEnd(); await this.gate; }
      return r.read(buffer, length, position);
    };
    return { size: r.size, read, close: () => r.close() };
  }
}

// ABOR while the read that finds the end of the file is at the disk: Node reports writes on a
// destroyed socket as done, so the transfer reached its end, waited for a socket that had already
// closed, and the session never answered again.
test('ABOR while the last read is at the disk: 426 then 226, and the session goes on', async () => {
  let disk;
  const srv = await startServer({ storage: () => (disk ??= new HeldEnd(srv.root)) });
  try {
    const c = await RawClient.connect(srv.port);
    await c.login(USER, PASSWORD);
    await c.cmd('TYPE I');
    const data = crypto.randomBytes(3 * MiB + 5);
    await fs.writeFile(path.join(srv.root, 'held.bin'), data);
    const d = await c.passive('EPSV');
    d.on('error', () => {});
    const closed = new Promise((resolve) => d.once('close', resolve));
    d.resume();
    assert.equal((await c.cmd('RETR held.bin')).code, 150);
    await disk.atEnd;
    c.writeRaw('ABOR\r\n');
    await closed; // the server destroys the data connection at once
    disk.open();
    assert.equal((await c.read()).code, 426);
    assert.equal((await c.read()).code, 226);
    // Nothing is left over, and the next transfer works.
    assert.equal((await c.cmd('NOOP')).code, 200);
    disk.reset();
    disk.open();
    const e = await c.passive('EPSV');
    const got = collect(e);
    assert.equal((await c.cmd('RETR held.bin')).code, 150);
    assert.equal(sha(await got), sha(data));
    assert.equal((await c.read()).code, 226);
    await c.cmd('QUIT');
  } finally { await srv.stop(); }
});

test('ending a data connection that has already closed fails at once instead of waiting for ever', async () => {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const accepted = new Promise((resolve) => server.once('connection', resolve));
    const client = net.connect(server.address().port, '127.0.0.1');
    client.on('error', () => {});
    const socket = await accepted;
    for (const s of [socket, client]) s.setTimeout(10_000, () => s.destroy());
    await new Promise((resolve) => { socket.write(Buffer.alloc(1000), resolve); });
    socket.destroy();
    await new Promise((resolve) => socket.once('close', resolve));
    await assert.rejects(finish(socket), /closed/);
    await assert.rejects(finish(socket, Buffer.from('last')), /closed/);
    client.destroy();
  } finally { server.close(); }
});
