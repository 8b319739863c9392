import { Worker } from 'node:worker_threads';
import { workerExecArgv } from './worker-exec-argv.js';

export interface IdleWorkerPoolOptions {
  /** The worker module. */
  moduleUrl: URL;
  /** Thread name, shown by tools such as top -H (Linux keeps its first 15 bytes). */
  name: string;
  /** Idle workers kept at most; a worker released beyond this ends. */
  maxIdle: number;
  /** How long an idle worker waits to be taken again before it ends. */
  idleMs: number;
}

/**
 * Keeps workers of one module that finished a job, so the next job of this process finds one whose
 * code V8 has already compiled and optimized. A new worker loads and compiles its modules again,
 * which costs CPU on its own thread and on V8's compiler threads on every job. Idle workers do not
 * hold the process open, and end after `idleMs`. A worker must be released only in a state ready
 * for the next job (its protocol's business), and ended instead when a job failed.
 */
export class IdleWorkerPool {
  private readonly idle: Worker[] = [];
  private readonly timers = new WeakMap<Worker, NodeJS.Timeout>();

  constructor(private readonly options: IdleWorkerPoolOptions) {}

  /** Returns an idle worker, or starts a new one. Throws when a new worker cannot be created. */
  take(): Worker {
    const worker = this.idle.pop();
    if (worker !== undefined && isRunning(worker)) {
      clearTimeout(this.timers.get(worker));
      worker.ref();
      return worker;
    }
    const started = new Worker(this.options.moduleUrl, { name: this.options.name, execArgv: workerExecArgv() });
    // A worker that ends while idle leaves the pool.
    started.on('exit', () => this.remove(started));
    return started;
  }

  /** Keeps a worker whose job ended cleanly for the next job, or ends it when enough are idle. */
  release(worker: Worker): void {
    // A worker that has exited already would never reply to the next job.
    if (!isRunning(worker)) return;
    if (this.idle.length >= this.options.maxIdle) {
      void worker.terminate();
      return;
    }
    worker.unref();
    this.idle.push(worker);
    this.timers.set(
      worker,
      setTimeout(() => {
        this.remove(worker);
        void worker.terminate();
      }, this.options.idleMs).unref(),
    );
  }

  /** Idle workers now, for tests and metrics. */
  get idleCount(): number {
    return this.idle.length;
  }

  private remove(worker: Worker): void {
    const index = this.idle.indexOf(worker);
    if (index >= 0) this.idle.splice(index, 1);
  }
}

/** Returns whether the worker thread is still running: threadId reads -1 once it has exited. */
function isRunning(worker: Worker): boolean {
  return worker.threadId !== -1;
}

/** The next message of a worker, and a way to stop waiting for it. */
export interface PendingReply<T> {
  /** Resolves with the worker's next message. Rejects when the worker raises an error or exits first. */
  reply: Promise<T>;
  /** Removes the listeners, so a worker going back to a pool keeps none of this job's. */
  detach(): void;
}

/** Waits for the next message of `worker`; `label` names the worker in the error of an early exit. */
export function nextReply<T>(worker: Worker, label: string): PendingReply<T> {
  let detach = (): void => undefined;
  const reply = new Promise<T>((resolve, reject) => {
    const onMessage = (message: T) => {
      detach();
      resolve(message);
    };
    const onError = (error: unknown) => {
      detach();
      reject(error);
    };
    const onExit = (code: number) => {
      detach();
      reject(new Error(`the ${label} worker exited with code ${code} and no result`));
    };
    detach = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
  return { reply, detach: () => detach() };
}
