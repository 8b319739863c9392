import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { IdleWorkerPool } from './worker-pool.js';

/** Writes a worker module that replies to each message with its thread id, and returns its URL. */
function echoModule(): { url: URL; remove(): void } {
  const folder = mkdtempSync(join(tmpdir(), 'warden-pool-'));
  const path = join(folder, 'echo.mjs');
  writeFileSync(path, "import { parentPort, threadId } from 'node:worker_threads';\nparentPort.on('message', () => parentPort.postMessage(threadId));\n");
  return { url: pathToFileURL(path), remove: () => rmSync(folder, { recursive: true, force: true }) };
}

function ask(worker: Worker): Promise<number> {
  return new Promise((resolve) => {
    worker.once('message', resolve);
    worker.postMessage('who');
  });
}

/**
 * Resolves when the worker ends. Idle workers and their timers do not hold the event loop open, so
 * a timer of this test does while it waits.
 */
async function exited(worker: Worker): Promise<void> {
  const keepAlive = setInterval(() => undefined, 1000);
  try {
    await new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  } finally {
    clearInterval(keepAlive);
  }
}

describe('IdleWorkerPool', () => {
  it('gives a released worker to the next job', async () => {
    const module = echoModule();
    try {
      const pool = new IdleWorkerPool({ moduleUrl: module.url, name: 'test echo', maxIdle: 1, idleMs: 60_000 });
      const first = pool.take();
      const firstId = await ask(first);
      pool.release(first);
      assert.equal(pool.idleCount, 1);
      const second = pool.take();
      assert.equal(await ask(second), firstId);
      assert.equal(pool.idleCount, 0);
      await second.terminate();
    } finally {
      module.remove();
    }
  });

  it('ends a released worker beyond maxIdle, and idle workers after idleMs', async () => {
    const module = echoModule();
    try {
      const pool = new IdleWorkerPool({ moduleUrl: module.url, name: 'test echo', maxIdle: 1, idleMs: 50 });
      const [a, b] = [pool.take(), pool.take()];
      assert.notEqual(await ask(a), await ask(b));
      const bEnded = exited(b);
      pool.release(a);
      pool.release(b);
      await bEnded;
      assert.equal(pool.idleCount, 1);
      await exited(a);
      assert.equal(pool.idleCount, 0);
    } finally {
      module.remove();
    }
  });

  it('skips a worker released after it exited', async () => {
    const module = echoModule();
    try {
      const pool = new IdleWorkerPool({ moduleUrl: module.url, name: 'test echo', maxIdle: 2, idleMs: 60_000 });
      const ended = pool.take();
      await ended.terminate();
      pool.release(ended);
      assert.equal(pool.idleCount, 0);

      const next = pool.take();
      assert.equal(typeof (await ask(next)), 'number');
      await next.terminate();
    } finally {
      module.remove();
    }
  });

  it('drops an idle worker that ended', async () => {
    const module = echoModule();
    try {
      const pool = new IdleWorkerPool({ moduleUrl: module.url, name: 'test echo', maxIdle: 2, idleMs: 60_000 });
      const worker = pool.take();
      const id = await ask(worker);
      pool.release(worker);
      const ended = exited(worker);
      await worker.terminate();
      await ended;
      assert.equal(pool.idleCount, 0);
      const next = pool.take();
      assert.notEqual(await ask(next), id);
      await next.terminate();
    } finally {
      module.remove();
    }
  });
});
