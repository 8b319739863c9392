import pg from 'pg';
import type { DataSource } from 'typeorm';
import { getLogger } from '../../common/src/index.js';
import { withPinnedSearchPath } from '../../database/src/search-path.js';
import { findLatestChainVerification, runFullVerification, type FullVerificationRun } from './chain-verification.js';
import { serverUrl, type PostgresLedger } from './ledger.js';

/** Ledger actor of the `audit.chain_verified` entries that the schedule appends. */
export const VERIFICATION_SCHEDULER_ACTOR = 'system';

/**
 * Key of the PostgreSQL advisory lock that scheduled runs hold, so that gateway replicas sharing a
 * database verify one at a time. The value is arbitrary, fixed and only used by Warden.
 */
export const CHAIN_VERIFICATION_LOCK_KEY = '6071298413170655281';

/** Reason a scheduled run did nothing. */
export type SkipReason =
  /** A run of this scheduler was still in progress. */
  | 'in-progress'
  /** Another process held the verification lock, so it was verifying the same database. */
  | 'other-process'
  /** A verification recorded less than half an interval ago, by any process, made this one unnecessary. */
  | 'recent';

/** Outcome of one scheduled run. */
export type ScheduledVerificationOutcome =
  | { status: 'passed' | 'failed'; run: FullVerificationRun }
  | { status: 'skipped'; reason: SkipReason }
  /** The verification could not run, for example because the database was unreachable. */
  | { status: 'error'; error: unknown };

/**
 * Verifies the whole ledger chain every `intervalSeconds` and records each pass as an
 * `audit.chain_verified` entry, which later exports build on. The first run comes when the newest
 * recorded verification turns `intervalSeconds` old, so a process that restarts more often than
 * the interval still verifies. Without any recorded verification it comes one interval after
 * start. Runs of one scheduler never overlap: the next run is scheduled when the previous one
 * ends, and runOnce skips while a run is in progress. Gateway replicas that share a server
 * database coordinate their scheduled runs (runScheduled), so one verifies at a time under an
 * advisory lock. A replica also skips its run while a pass recorded by any of them is less than
 * half an interval old. An interval of 0 disables the schedule.
 */
export class ChainVerificationScheduler {
  private readonly log = getLogger('audit-chain-verification');
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<ScheduledVerificationOutcome> | undefined;
  private started = false;
  /**
   * Counts start() and stop() calls. A lookup or run that a schedule began schedules the next run
   * only while the generation it began in is current, so a stop() and start() during a run leave
   * one timer, not two.
   */
  private generation = 0;

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
    this.generation += 1;
    void this.scheduleFirst(this.generation);
    this.log.info({ intervalSeconds: this.intervalSeconds }, 'ledger verification schedule started');
    return true;
  }

  /** Stops the schedule and waits for a run in progress to finish. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.generation += 1;
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
    return this.exclusive(() => this.verify());
  }

  /**
   * Runs a scheduled verification, coordinated with other processes on the same database. On a
   * server database it takes the advisory lock CHAIN_VERIFICATION_LOCK_KEY without waiting, and
   * skips when another process holds it. It also skips when the newest recorded verification, by
   * any process or trigger, is less than half an interval old. Embedded PGlite serves one process,
   * so there only the age check applies.
   */
  runScheduled(): Promise<ScheduledVerificationOutcome> {
    return this.exclusive(() => this.withReplicaLock(() => this.verifyUnlessRecent()));
  }

  /** Runs `work` unless a run of this scheduler is in progress. */
  private exclusive(work: () => Promise<ScheduledVerificationOutcome>): Promise<ScheduledVerificationOutcome> {
    if (this.running !== undefined) {
      this.log.warn('scheduled ledger verification skipped because the previous run is still in progress');
      return Promise.resolve({ status: 'skipped', reason: 'in-progress' });
    }
    const run = work();
    this.running = run;
    void run.finally(() => {
      this.running = undefined;
    });
    return run;
  }

  /**
   * Runs `work` while holding the replicas' advisory lock on a connection of its own, outside the
   * pool, so that a pool of one connection still serves the verification, and the lock ends with
   * the connection if this process dies. Embedded PGlite serves one process, so there `work` runs
   * without the lock.
   */
  private async withReplicaLock(work: () => Promise<ScheduledVerificationOutcome>): Promise<ScheduledVerificationOutcome> {
    const url = serverUrl(this.dataSource);
    if (url === undefined) return work();
    const client = new pg.Client({ connectionString: withPinnedSearchPath(url), application_name: 'warden-verification-lock' });
    // A connection that drops while idle would otherwise raise an unhandled error event.
    client.on('error', (error: Error) => this.log.warn({ err: error }, 'the connection of the ledger verification lock failed'));
    try {
      try {
        await client.connect();
        const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS locked', [CHAIN_VERIFICATION_LOCK_KEY]);
        if (!rows[0]?.locked) {
          this.log.info('scheduled ledger verification skipped because another process is verifying the same database');
          return { status: 'skipped', reason: 'other-process' };
        }
      } catch (error) {
        this.log.error({ err: error }, 'scheduled ledger verification could not take its lock');
        return { status: 'error', error };
      }
      const outcome = await work();
      // The lock ends with its session anyway, so a failed unlock leaves the outcome as it is.
      await client.query('SELECT pg_advisory_unlock($1::bigint)', [CHAIN_VERIFICATION_LOCK_KEY]).catch((error: unknown) => {
        this.log.warn({ err: error }, 'could not release the ledger verification lock; it ends with its connection');
      });
      return outcome;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** Verifies unless a verification recorded less than half an interval ago makes it unnecessary. */
  private async verifyUnlessRecent(): Promise<ScheduledVerificationOutcome> {
    try {
      const latest = await findLatestChainVerification(this.dataSource);
      const ageMs = latest === undefined ? Infinity : Date.now() - Date.parse(latest.startedAt);
      if (ageMs < 0) {
        // A pass dated ahead of this clock would otherwise stop every run until that time comes.
        this.log.warn({ recordedSeq: latest?.seq, startedAt: latest?.startedAt }, 'the newest recorded ledger verification is dated in the future; check the clocks of the gateway hosts');
      } else if (ageMs < (this.intervalSeconds * 1000) / 2) {
        this.log.info({ recordedSeq: latest?.seq, ageSeconds: Math.round(ageMs / 1000) }, 'scheduled ledger verification skipped because a verification was recorded recently');
        return { status: 'skipped', reason: 'recent' };
      }
    } catch (error) {
      this.log.error({ err: error }, 'scheduled ledger verification could not read the newest recorded verification');
      return { status: 'error', error };
    }
    return this.verify();
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
  private async scheduleFirst(generation: number): Promise<void> {
    const intervalMs = this.intervalSeconds * 1000;
    let delayMs = intervalMs;
    try {
      const latest = await findLatestChainVerification(this.dataSource);
      if (latest !== undefined) delayMs = Math.min(intervalMs, Math.max(0, Date.parse(latest.startedAt) + intervalMs - Date.now()));
    } catch (error) {
      this.log.error({ err: error }, 'could not read the newest recorded ledger verification, so the first run waits a full interval');
    }
    // stop(), and perhaps start() again, may have been called while the lookup ran.
    if (this.generation === generation) this.scheduleNext(generation, delayMs);
  }

  private scheduleNext(generation: number, delayMs = this.intervalSeconds * 1000): void {
    this.timer = setTimeout(() => {
      void this.runScheduled().then((outcome) => {
        if (this.generation !== generation) return;
        // After a recent pass the next run comes when that pass turns intervalSeconds old, as after
        // a restart. Any other outcome, including another process holding the lock, waits a full interval.
        if (outcome.status === 'skipped' && outcome.reason === 'recent') void this.scheduleFirst(generation);
        else this.scheduleNext(generation);
      });
    }, delayMs);
    // The HTTP server keeps the gateway alive; the schedule alone should not keep a process running.
    this.timer.unref();
  }
}
