import { Worker } from 'node:worker_threads';
import { workerExecArgv } from './worker-exec-argv.js';

/**
 * Runs a worker module once and resolves with the first message it posts. Rejects when the worker
 * fails to start, throws, or exits without posting; `label` names the worker in that error. The
 * thread is named `warden <label>`, the name that tools such as top -H show.
 */
export function runWorkerForResult<T>(moduleUrl: URL, workerData: unknown, label: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(moduleUrl, { workerData, name: `warden ${label}`, execArgv: workerExecArgv() });
    let result: { value: T } | undefined;
    worker.once('message', (message: T) => (result = { value: message }));
    worker.once('error', reject);
    worker.once('exit', (code) => (result ? resolve(result.value) : reject(new Error(`the ${label} worker exited with code ${code} and no result`))));
  });
}
