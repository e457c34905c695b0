// FtpClient and the wharf CLI against more real servers and the configurations deployments use:
// GNU inetutils ftpd and netkit ftpd (run per connection, as inetd does), vsftpd with implicit
// TLS or with one data connection mode switched off, ProFTPD requiring TLS session reuse (its
// default) or listing with LIST only, Pure-FTPd with -b and TLS required, pyftpdlib over TLS
// without EPSV and with a 227 address that is not its own. Every effect is checked on disk.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Readable } from 'node:stream';
import { FtpClient, mirrorDown, mirrorUp } from '../../dist/index.js';
import { startPeer, PeerUnavailableError, PEER_USER } from '../helpers/peers.js';
import { run } from '../helpers/run.js';

const BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

/**
 * name, peer, peer options, client options. `passive: false` asks for active mode; the vsftpd
 * cases with a mode switched off check that the client uses the other one.
 */
const VARIANTS = [
  { title: 'GNU inetutils ftpd 2.4 (LIST only, no MLSD)', peer: 'inetutils-ftpd' },
  { title: 'netkit ftpd 0.17 (ftpd-ssl, plain)', peer: 'netkit-ftpd' },
  { title: 'vsftpd implicit TLS (implicit_ssl=YES, ssl reuse required)', peer: 'vsftpd', opts: { tls: true, implicitTls: true, config: { extra: ['implicit_ssl=YES'] } }, client: { security: 'implicit' } },
  { title: 'vsftpd pasv_enable=NO (the client falls back to active mode)', peer: 'vsftpd', opts: { config: { extra: ['pasv_enable=NO'] } } },
  { title: 'vsftpd port_enable=NO, the client asking for active mode (falls back to passive)', peer: 'vsftpd', opts: { config: { extra: ['port_enable=NO'] } }, client: { passive: false } },
  { title: 'ProFTPD TLSRequired on, session reuse required (its default TLSOptions)', peer: 'proftpd', opts: { tls: true, config: { drop: ['TLSOptions'] } }, client: { security: 'explicit' } },
  { title: 'ProFTPD ListOptions "-a", FactsAdvertise off (LIST, dot files shown)', peer: 'proftpd', opts: { config: { extra: ['ListOptions "-a"', 'FactsAdvertise off'] } } },
  { title: 'Pure-FTPd -b (broken clients compatibility)', peer: 'pure-ftpd', opts: { config: { extra: ['-b'] } } },
  { title: 'Pure-FTPd -Y 3 (TLS required for control and data)', peer: 'pure-ftpd', opts: { tls: true, config: { tlsLevel: 3 } }, client: { security: 'explicit' } },
  {
    title: 'pyftpdlib TLS, no EPSV, 227 naming a foreign address, permit_foreign_addresses',
    peer: 'pyftpdlib',
    opts: { tls: true, config: { extra: ['h.permit_foreign_addresses = True', 'h.masquerade_address = "203.0.113.9"', 'h.proto_cmds = {k: v for k, v in h.proto_cmds.items() if k != "EPSV"}'] } },
    client: { security: 'explicit' },
  },
];

for (const v of VARIANTS) {
  describe(v.title, () => {
    let peer, client, tmp, skipReason, base;
    const lines = [];
    const connect = async (extra = {}) => {
      const c = await FtpClient.connect({
        host: peer.host, port: peer.port, user: peer.user, password: peer.password,
        tls: { rejectUnauthorized: false }, timeouts: { connect: 10_000, reply: 15_000, dataIdle: 15_000 },
        log: (l) => { if (lines.length < 5000) lines.push(l); }, ...v.client, ...extra,
      });
      // The inetd servers serve the whole file system: the test's root is a folder in it.
      if (peer.cwd) await c.cd(peer.cwd);
      return c;
    };
    /** Give what a test made in the root to the peer account (the C servers write as it). */
    const own = () => { if (v.peer !== 'pyftpdlib') spawnSync('chown', ['-R', '-h', `${PEER_USER}:`, peer.root]); };
    before(async () => {
      try {
        peer = await startPeer(v.peer, v.opts ?? {});
      } catch (err) {
        if (!(err instanceof PeerUnavailableError) || process.env.CI) throw err;
        skipReason = err.message;
        return;
      }
      base = peer.cwd ?? '';
      client = await connect();
      tmp = await fs.mkdtemp(path.join(os.tmpdir(), `wharf-variant-${v.peer}-`));
    });
    after(async () => {
      await client?.close().catch(() => {});
      await peer?.stop();
      if (tmp) await fs.rm(tmp, { recursive: true, force: true });
    });
    const it = (title, fn) => test(title, async (t) => {
      if (skipReason) { t.skip(skipReason); return; }
      const from = lines.length;
      try { await fn(); } catch (err) {
        // The conversation that led to it says more than the error alone.
        t.diagnostic(lines.slice(Math.max(from, lines.length - 30)).join('\n'));
        throw err;
      }
    });

    it('uploads, lists, downloads byte for byte, resumes both ways', async () => {
      assert.equal(client.secure, Boolean(v.opts?.tls));
      const data = crypto.randomBytes(1_500_000 + 7);
      await client.ensureDir('d1/d2');
      await client.ensureDir('d1/d2');
      await client.upload(Readable.from([data]), 'd1/d2/b.bin');
      assert.ok(data.equals(await fs.readFile(path.join(peer.root, 'd1/d2/b.bin'))), 'bytes on the server disk');
      const entry = (await client.list('d1/d2')).find((e) => e.name === 'b.bin');
      assert.equal(entry?.type, 'file');
      assert.equal(entry?.size, data.length);
      assert.ok(Math.abs(entry.modified.getTime() - Date.now()) < 86400_000, 'a time near now');
      assert.equal(await client.size('d1/d2/b.bin'), data.length);
      const local = path.join(tmp, 'b.bin');
      await client.download('d1/d2/b.bin', local);
      assert.ok(data.equals(await fs.readFile(local)));
      await fs.truncate(local, 400_001);
      await client.download('d1/d2/b.bin', local, { offset: 400_001 });
      assert.ok(data.equals(await fs.readFile(local)), 'download resumed');
      await client.upload(Readable.from([data.subarray(0, 700_000)]), 'r.bin');
      await client.upload(Readable.from([data.subarray(700_000)]), 'r.bin', { offset: 700_000 });
      assert.ok(data.equals(await fs.readFile(path.join(peer.root, 'r.bin'))), 'upload resumed');
    });

    it('names with leading spaces and UTF-8, links, rename, delete, recursive removal', async () => {
      await fs.writeFile(path.join(peer.root, ' lead space.txt'), 'lead');
      await fs.writeFile(path.join(peer.root, 'ünï cödé.txt'), 'utf8');
      await fs.mkdir(path.join(peer.root, 'tree/sub'), { recursive: true });
      await fs.writeFile(path.join(peer.root, 'tree/sub/x.txt'), 'x');
      // A link to a file: inetutils and netkit ftpd cannot remove a link to a folder at all (their
      // DELE follows it and calls rmdir: "550 Not a directory"); client-peers covers those elsewhere.
      await fs.symlink('sub/x.txt', path.join(peer.root, 'tree/lnk'));
      own();
      const names = (await client.list()).map((e) => e.name);
      for (const n of [' lead space.txt', 'ünï cödé.txt', 'tree']) assert.ok(names.includes(n), `${JSON.stringify(n)} in ${JSON.stringify(names)}`);
      const lead = path.join(tmp, 'lead.txt');
      await client.download(' lead space.txt', lead);
      assert.equal(await fs.readFile(lead, 'utf8'), 'lead');
      await client.rename('ünï cödé.txt', 'tree/renamed.txt');
      assert.equal(await fs.readFile(path.join(peer.root, 'tree/renamed.txt'), 'utf8'), 'utf8');
      await client.remove(' lead space.txt');
      await assert.rejects(fs.stat(path.join(peer.root, ' lead space.txt')));
      await assert.rejects(client.remove('no-such-file'), (err) => err.code === 550);
      await client.removeDir('tree', { recursive: true });
      await assert.rejects(fs.lstat(path.join(peer.root, 'tree')));
    });

    it('mirrors up and down; the second run skips everything', async () => {
      const src = path.join(tmp, 'src');
      await fs.mkdir(path.join(src, 'x/y'), { recursive: true });
      const files = { 'a.txt': crypto.randomBytes(3000), 'x/b.bin': crypto.randomBytes(90_000), 'x/y/c.bin': crypto.randomBytes(150_000) };
      for (const [rel, data] of Object.entries(files)) await fs.writeFile(path.join(src, rel), data);
      const remote = `${base}/mirror`;
      const up = await mirrorUp(client, () => connect(), src, remote, { parallel: 2 });
      assert.equal(up.transferred, 3);
      assert.equal(up.bytes, 243_000);
      for (const [rel, data] of Object.entries(files)) assert.ok(data.equals(await fs.readFile(path.join(peer.root, 'mirror', rel))), rel);
      const dest = path.join(tmp, 'dest');
      const down = await mirrorDown(client, () => connect(), remote, dest, { parallel: 2 });
      assert.equal(down.transferred, 3);
      for (const [rel, data] of Object.entries(files)) assert.ok(data.equals(await fs.readFile(path.join(dest, rel))), rel);
      const again = await mirrorDown(client, () => connect(), remote, dest, { parallel: 2 });
      assert.equal(again.skipped, 3, JSON.stringify(again));
    });

    it('the CLI: put -p, ls -l, get -c, mirror, rm -r', async () => {
      const scheme = v.client?.security === 'implicit' ? 'ftps' : v.client?.security === 'explicit' ? 'ftpes' : 'ftp';
      // Absolute paths for the inetd servers, whose login folder is the account's home.
      const prefix = peer.cwd ? `%2F${peer.cwd.slice(1)}/` : '';
      const url = (p) => `${scheme}://${peer.user}@127.0.0.1:${peer.port}/${prefix}${p}`;
      const env = { ...process.env, NETRC: '/nonexistent', WHARF_HISTFILE: '/dev/null', WHARF_PASSWORD: peer.password };
      delete env.WHARF_USER;
      const flags = ['--insecure', ...(v.client?.passive === false ? ['--active'] : [])];
      const wharf = async (...args) => {
        const r = await run(process.execPath, [BIN, ...args.slice(0, 1), ...flags, ...args.slice(1)], { timeout: 60_000, env, cwd: tmp });
        assert.equal(r.status, 0, `wharf ${args.join(' ')}: ${r.stderr}`);
        return r;
      };
      const data = crypto.randomBytes(2_000_003);
      await fs.writeFile(path.join(tmp, 'cli.bin'), data);
      await wharf('put', '-p', 'cli.bin', url('cli/in/'));
      assert.ok(data.equals(await fs.readFile(path.join(peer.root, 'cli/in/cli.bin'))));
      assert.match((await wharf('ls', '-l', url('cli/in/'))).text, /2000003 .*cli\.bin/);
      await fs.writeFile(path.join(tmp, 'part.bin'), data.subarray(0, 777_777));
      await wharf('get', '-c', url('cli/in/cli.bin'), 'part.bin');
      assert.ok(data.equals(await fs.readFile(path.join(tmp, 'part.bin'))), 'get -c resumed');
      await wharf('mirror', url('cli'), 'cli-copy');
      assert.ok(data.equals(await fs.readFile(path.join(tmp, 'cli-copy/in/cli.bin'))));
      await wharf('rm', '-r', url('cli'));
      await assert.rejects(fs.stat(path.join(peer.root, 'cli')));
    });
  });
}

test('ProFTPD TimeoutIdle: the next call after the server hangs up fails with its 421 reason', async (t) => {
  let peer;
  try {
    peer = await startPeer('proftpd', { config: { drop: ['TimeoutIdle'], extra: ['TimeoutIdle 1'] } });
  } catch (err) {
    if (!(err instanceof PeerUnavailableError) || process.env.CI) throw err;
    t.skip(err.message);
    return;
  }
  try {
    const c = await FtpClient.connect({ host: peer.host, port: peer.port, user: peer.user, password: peer.password, timeouts: { connect: 10_000, reply: 10_000 } });
    await new Promise((r) => setTimeout(r, 2500));
    await assert.rejects(c.pwd(), (err) => err.name === 'FtpConnectionError' && /421 Idle timeout/.test(err.message));
    await c.close();
  } finally {
    await peer.stop();
  }
});
