// Start an FtpServer on an ephemeral loopback port over a fresh temporary root, for one test.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FtpServer } from '../../dist/index.js';

export const USER = 'alice';
export const PASSWORD = 'wonder land';

export async function startServer(options = {}) {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-root-'));
  const server = new FtpServer({
    host: '127.0.0.1',
    port: 0,
    root,
    users: [{ username: USER, password: PASSWORD }],
    failedLoginDelayMs: 5,
    shutdownGraceMs: 2000,
    ...options,
  });
  const addr = await server.listen();
  return {
    server,
    root,
    port: addr.port,
    implicitTlsPort: addr.implicitTlsPort,
    url: `ftp://${USER}:${encodeURIComponent(PASSWORD)}@127.0.0.1:${addr.port}`,
    async stop() {
      await server.close();
      await fs.rm(root, { recursive: true, force: true });
    },
  };
}
