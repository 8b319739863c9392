import { getLogger } from '../../../common/src/index.js';
import type { CheckpointService, CreatedCheckpoint } from './checkpoint.service.js';

/** Ledger actor of the checkpoints that the schedule creates. */
export const SCHEDULER_ACTOR = 'system';

/**
 * Creates a checkpoint every `intervalSeconds` while the ledger has grown since the last one. Runs
 * never overlap: the next run is scheduled when the previous one ends. An interval of 0 disables
 * the schedule.
 */
export class CheckpointScheduler {
  private readonly log = getLogger('audit-checkpoints');
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private started = false;

  constructor(
    private readonly service: CheckpointService,
    private readonly intervalSeconds: number,
  ) {}

  /** Starts the schedule; returns false when the interval is 0 or it already runs. */
  start(): boolean {
    if (this.intervalSeconds === 0) {
      this.log.info('checkpoint schedule disabled (WARDEN_CHECKPOINT_INTERVAL_SECONDS=0)');
      return false;
    }
    if (this.started) return false;
    this.started = true;
    this.scheduleNext();
    this.log.info({ intervalSeconds: this.intervalSeconds }, 'checkpoint schedule started');
    return true;
  }

  /** Stops the schedule and waits for a run in progress to finish. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
    this.log.info('checkpoint schedule stopped');
  }

  /**
   * Creates a checkpoint when the ledger has grown, and logs instead of raising any error, so one
   * failed run does not stop the schedule. Returns the checkpoint, or undefined when none was made.
   */
  async runOnce(): Promise<CreatedCheckpoint | undefined> {
    try {
      if (!(await this.service.hasUncheckpointedEntries())) return undefined;
      return await this.service.create(SCHEDULER_ACTOR);
    } catch (error) {
      this.log.error({ err: error }, 'scheduled checkpoint failed');
      return undefined;
    }
  }

  private scheduleNext(): void {
    this.timer = setTimeout(() => {
      const run = this.runOnce();
      this.running = run;
      void run.finally(() => {
        this.running = undefined;
        if (this.started) this.scheduleNext();
      });
    }, this.intervalSeconds * 1000);
    // The HTTP server keeps the gateway alive; the schedule alone should not keep a process running.
    this.timer.unref();
  }
}
