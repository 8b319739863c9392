import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { workerExecArgv } from './worker-exec-argv.js';

const run = promisify(execFile);

describe('workerExecArgv', () => {
  it('clears options under --input-type', () => {
    for (const execArgv of [
      ['--input-type=module', '-e', 'code'],
      ['--input-type', 'module', '--eval', 'code'],
      ['--max-old-space-size=512', '--input-type=commonjs', '--eval=code'],
      ['--input-type=module', '-p', '1 + 1'],
    ]) {
      assert.deepEqual(workerExecArgv(execArgv), [], execArgv.join(' '));
    }
  });

  it('inherits options without --input-type', () => {
    for (const execArgv of [
      ['--max-semi-space-size=64', '--enable-source-maps', '--conditions', 'development'],
      [],
      ['-e', 'code'],
      ['--import', './hooks.mjs', '--eval=code'],
      ['-p', '1 + 1'],
      ['-pe', '1 + 1'],
      ['--print=1'],
    ]) {
      assert.equal(workerExecArgv(execArgv), undefined, execArgv.join(' '));
    }
  });

  it('starts pooled workers under --input-type', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'warden-exec-argv-'));
    try {
      const echo = join(folder, 'echo.mjs');
      writeFileSync(echo, "import { parentPort } from 'node:worker_threads';\nparentPort.on('message', (text) => parentPort.postMessage(`echo ${text}`));\n");
      const pool = new URL('./worker-pool.js', import.meta.url).href;
      const script = [
        `import { IdleWorkerPool } from ${JSON.stringify(pool)};`,
        `const pool = new IdleWorkerPool({ moduleUrl: new URL(${JSON.stringify(pathToFileURL(echo).href)}), name: 'echo', maxIdle: 1, idleMs: 10 });`,
        'const worker = pool.take();',
        "worker.once('error', (error) => { console.log(`error: ${error.message}`); process.exitCode = 1; });",
        "worker.once('message', (reply) => { console.log(reply); void worker.terminate(); });",
        "worker.postMessage('ready');",
      ].join('\n');

      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { timeout: 30_000 });

      assert.equal(stdout.trim(), 'echo ready');
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('keeps --import under -e', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'warden-exec-argv-'));
    try {
      const hook = join(folder, 'hook.mjs');
      writeFileSync(hook, 'globalThis.wardenHook = true;\n');
      const probe = join(folder, 'probe.mjs');
      writeFileSync(probe, "import { parentPort } from 'node:worker_threads';\nparentPort.postMessage(globalThis.wardenHook === true ? 'hooked' : 'not hooked');\n");
      const result = new URL('./worker-result.js', import.meta.url).href;
      const script = [
        `import(${JSON.stringify(result)})`,
        `  .then(({ runWorkerForResult }) => runWorkerForResult(new URL(${JSON.stringify(pathToFileURL(probe).href)}), null, 'probe'))`,
        '  .then((reply) => console.log(reply), (error) => { console.log(`error: ${error.message}`); process.exitCode = 1; });',
      ].join('\n');

      const { stdout } = await run(process.execPath, ['--import', pathToFileURL(hook).href, '-e', script], { timeout: 30_000 });

      assert.equal(stdout.trim(), 'hooked');
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
