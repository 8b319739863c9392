import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { REPO_ROOT } from '../support/databases.js';

const MAIN = resolve(import.meta.dirname, '..', '..', 'apps', 'gateway', 'src', 'main.js');

/** Asks the kernel for a free loopback port, because PORT accepts 1-65535 and not 0. */
function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

describe('gateway main', () => {
  it('rejects an invalid PORT', async () => {
    const child = spawn(process.execPath, [MAIN], { env: { PATH: process.env.PATH, PORT: 'abc' } });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((done) => child.on('exit', done));
    assert.equal(code, 2);
    assert.match(stderr, /^Invalid configuration: PORT must be a whole number/);
  });

  it('serves and stops cleanly on SIGTERM', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'warden-gateway-main-'));
    const port = await freePort();
    const child = spawn(process.execPath, [MAIN], {
      env: { PATH: process.env.PATH, PORT: String(port), WARDEN_DATA_DIR: dataDir, WARDEN_POLICY_DIR: join(REPO_ROOT, 'policies'), LOG_LEVEL: 'warn' },
    });
    const exited = new Promise<number | null>((done) => child.on('exit', done));
    try {
      let ready: { status: string } | undefined;
      for (let attempt = 0; attempt < 60 && !ready; attempt++) {
        try {
          ready = (await (await fetch(`http://127.0.0.1:${port}/readyz`)).json()) as { status: string };
        } catch {
          await new Promise((wait) => setTimeout(wait, 500));
        }
      }
      assert.deepEqual(ready, { status: 'ready', database: 'embedded' });

      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      assert.equal(existsSync(join(dataDir, 'warden.lock')), false, 'the data folder lock is released');
    } finally {
      child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
