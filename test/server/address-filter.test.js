// allowFrom / denyFrom: which client addresses may connect, over IPv4, IPv6 and dual-stack sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { RawClient } from '../helpers/raw-client.js';
import { startServer, USER, PASSWORD } from '../helpers/server.js';

/** What a connection from `host` gets: the greeting's code, and whether the server then closed it. */
async function greetingFrom(port, host, localAddress) {
  const c = await RawClient.connect(port, host, { localAddress });
  try {
    if (c.greeting.code !== 220) {
      const closed = await new Promise((resolve) => {
        const t = setTimeout(() => resolve(false), 5000);
        c.socket.once('close', () => { clearTimeout(t); resolve(true); });
        if (c.socket.destroyed) { clearTimeout(t); resolve(true); }
      });
      return { code: c.greeting.code, text: c.greeting.text, closed };
    }
    const login = await c.login(USER, PASSWORD);
    return { code: 220, login: login.code };
  } finally {
    c.close();
  }
}

const ipv6 = await new Promise((resolve) => {
  const s = net.createServer().once('error', () => resolve(false)).listen(0, '::1', () => s.close(() => resolve(true)));
});

test('allowFrom: addresses outside every listed range get 421 and are closed; those inside log in', async () => {
  const outside = await startServer({ allowFrom: ['192.0.2.0/24', '10.0.0.0/8'] });
  try {
    const r = await greetingFrom(outside.port, '127.0.0.1');
    assert.equal(r.code, 421);
    assert.match(r.text, /Not allowed from your address/);
    assert.equal(r.closed, true);
  } finally { await outside.stop(); }
  const inside = await startServer({ allowFrom: ['192.0.2.0/24', '127.0.0.0/8'] });
  try {
    assert.deepEqual(await greetingFrom(inside.port, '127.0.0.1'), { code: 220, login: 230 });
  } finally { await inside.stop(); }
});

test('denyFrom wins over allowFrom; a single address is a rule of its own', async () => {
  const srv = await startServer({ allowFrom: ['127.0.0.0/8'], denyFrom: ['127.0.0.1'] });
  try {
    assert.equal((await greetingFrom(srv.port, '127.0.0.1')).code, 421);
    // From 127.0.0.2 (loopback too on Linux): inside the allowed range and not denied.
    assert.deepEqual(await greetingFrom(srv.port, '127.0.0.1', '127.0.0.2'), { code: 220, login: 230 });
  } finally { await srv.stop(); }
});

test('a dual-stack listener matches IPv4 clients against IPv4 rules and IPv6 clients against IPv6 rules', { skip: !ipv6 && 'no IPv6 loopback here' }, async () => {
  const srv = await startServer({ host: '::', allowFrom: ['::1/128'] });
  try {
    assert.deepEqual(await greetingFrom(srv.port, '::1'), { code: 220, login: 230 });
    // Arrives as ::ffff:127.0.0.1 and is read as 127.0.0.1: not in an IPv6 rule.
    assert.equal((await greetingFrom(srv.port, '127.0.0.1')).code, 421);
  } finally { await srv.stop(); }
  const v4 = await startServer({ host: '::', allowFrom: ['127.0.0.1/32'] });
  try {
    assert.deepEqual(await greetingFrom(v4.port, '127.0.0.1'), { code: 220, login: 230 });
    assert.equal((await greetingFrom(v4.port, '::1')).code, 421);
  } finally { await v4.stop(); }
});

test('a rule that is not an address or a range is refused when the server is made, naming it', async () => {
  const { FtpServer } = await import('../../dist/index.js');
  for (const [options, message] of [
    [{ allowFrom: ['10.0.0.0/33'] }, /allowFrom: '10.0.0.0\/33' needs a prefix length from 0 to 32/],
    [{ denyFrom: ['::/129'] }, /denyFrom: '::\/129' needs a prefix length from 0 to 128/],
    [{ allowFrom: ['example.com'] }, /allowFrom: 'example.com' is not an IP address or CIDR range/],
    [{ denyFrom: ['10.0.0.0/8/1'] }, /denyFrom: '10.0.0.0\/8\/1' needs a prefix length/],
  ]) assert.throws(() => new FtpServer(options), message);
});
