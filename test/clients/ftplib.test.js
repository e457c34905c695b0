// Python's ftplib against wharf: every command family, passive and active, ABOR, UTF-8, bytes on disk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { startServer, USER, PASSWORD } from '../helpers/server.js';
import { run } from '../helpers/run.js';

const script = fileURLToPath(new URL('./ftplib_session.py', import.meta.url));

test('python ftplib session (plain)', async () => {
  const srv = await startServer();
  try {
    const r = await run('python3', [script, String(srv.port), USER, PASSWORD, srv.root], { timeout: 120_000 });
    assert.equal(r.status, 0, r.text + r.stderr);
    assert.match(r.text, /^ok usable after abor$/m);
    assert.doesNotMatch(r.text, /FAIL/);
  } finally {
    await srv.stop();
  }
});
