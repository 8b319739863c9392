import type { DataSource } from 'typeorm';
import { getLogger } from '../../common/src/index.js';
import { findLatestChainVerification, runFullVerification, type FullVerificationRun } from './chain-verification.js';
import type { PostgresLedger } from './ledger.js';

/** Ledger actor of the `audit.chain_verified` entries that the schedule appends. */
export const VERIFICATION_SCHEDULER_ACTOR = 'system';

/** Outcome of one scheduled run. */
export type ScheduledVerificationOutcome =
  | { status: 'passed' | 'failed'; run: FullVerificationRun }
  /** Another run of this scheduler was still in progress, so this one did nothing. */
  | { status: 'skipped' }
  /** The verification could not run, for example because the database was unreachable. */
  | { status: 'error'; error: unknown };

/**
 * Verifies the whole ledger chain every `intervalSeconds` and records each pass as an
 * `audit.chain_verified` entry, which later exports build on. The first run comes when the newest
 * recorded verification turns `intervalSeconds` old, so a process that restarts more often than
 * the interval still verifies. Without any recorded verification it comes one interval after start. Runs of one scheduler never overlap: the
 * next run is scheduled when the previous one ends, and runOnce skips while a run is in progress.
 * An interval of 0 disables the schedule.
 */
export class ChainVerificationScheduler {
  private readonly log = getLogger('audit-chain-verification');
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<ScheduledVerificationOutcome> | undefined;
  private started = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly intervalSeconds: number,
    private readonly ledger?: PostgresLedger,
  ) {}

  /** Starts the schedule. Returns false when the interval is 0 or the schedule already runs. */
  start(): boolean {
    if (this.intervalSeconds === 0) {
      this.log.info('scheduled ledger verification disabled (WARDEN_CHAIN_VERIFICATION_INTERVAL_SECONDS=0)');
      return false;
    }
    if (this.started) return false;
    this.started = true;
    void this.scheduleFirst();
    this.log.info({ intervalSeconds: this.intervalSeconds }, 'ledger verification schedule started');
    return true;
  }

  /** Stops the schedule and waits for a run in progress to finish. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
    this.log.info('ledger verification schedule stopped');
  }

  /**
   * Verifies the whole chain now, unless a run is already in progress. Logs the start and the
   * result, and logs instead of raising any error, so one failed run does not stop the schedule.
   */
  runOnce(): Promise<ScheduledVerificationOutcome> {
    // NOTE: the guard covers this process only. Gateway replicas each run their own schedule, so
    // two of them can verify at once and both record a pass.
    if (this.running !== undefined) {
      this.log.warn('scheduled ledger verification skipped because the previous run is still in progress');
      return Promise.resolve({ status: 'skipped' });
    }
    const run = this.verify();
    this.running = run;
    void run.finally(() => {
      this.running = undefined;
    });
    return run;
  }

  private async verify(): Promise<ScheduledVerificationOutcome> {
    this.log.info('scheduled ledger verification started');
    try {
      const run = await runFullVerification(this.dataSource, { trigger: 'schedule', actor: VERIFICATION_SCHEDULER_ACTOR, ledger: this.ledger });
      const { verification } = run;
      if (!verification.ok) {
        this.log.error(
          { firstBadSeq: verification.firstBadSeq, problem: verification.problem, reason: verification.reason, durationMs: run.durationMs },
          'scheduled ledger verification failed: the chain is broken',
        );
        return { status: 'failed', run };
      }
      this.log.info(
        { entries: verification.entries, throughSeq: verification.headSeq, durationMs: run.durationMs, recordedSeq: run.recorded?.seq },
        'scheduled ledger verification passed',
      );
      return { status: 'passed', run };
    } catch (error) {
      this.log.error({ err: error }, 'scheduled ledger verification could not run');
      return { status: 'error', error };
    }
  }

  /** Schedules the first run for when the newest recorded verification turns intervalSeconds old. */
  private async scheduleFirst(): Promise<void> {
    const intervalMs = this.intervalSeconds * 1000;
    let delayMs = intervalMs;
    try {
      const latest = await findLatestChainVerification(this.dataSource);
      if (latest !== undefined) delayMs = Math.min(intervalMs, Math.max(0, Date.parse(latest.startedAt) + intervalMs - Date.now()));
    } catch (error) {
      this.log.error({ err: error }, 'could not read the newest recorded ledger verification, so the first run waits a full interval');
    }
    // stop() may have been called while the lookup ran.
    if (this.started) this.scheduleNext(delayMs);
  }

  private scheduleNext(delayMs = this.intervalSeconds * 1000): void {
    this.timer = setTimeout(() => {
      void this.runOnce().finally(() => {
        if (this.started) this.scheduleNext();
      });
    }, delayMs);
    // The HTTP server keeps the gateway alive; the schedule alone should not keep a process running.
    this.timer.unref();
  }
}
