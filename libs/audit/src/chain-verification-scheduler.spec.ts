import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import type { DataSource } from 'typeorm';
import { ChainVerificationScheduler, type ScheduledVerificationOutcome } from './chain-verification-scheduler.js';

const INTERVAL_SECONDS = 3600;
const INTERVAL_MS = INTERVAL_SECONDS * 1000;

/**
 * Returns a database with no recorded verification and no server URL, so scheduled runs take no
 * lock. Its queries return once `answered` resolves.
 */
function emptyDatabase(answered: Promise<void> = Promise.resolve()): DataSource {
  return {
    options: {},
    query: async () => {
      await answered;
      return [];
    },
  } as unknown as DataSource;
}

/** Lets the scheduler's pending promise callbacks run. setImmediate is not mocked, so it still fires. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Returns a scheduler whose verification waits for `release` after `hold`, and a count of the
 * scheduled runs that its timers started.
 */
function countingScheduler(database = emptyDatabase()): {
  scheduler: ChainVerificationScheduler;
  runs: () => number;
  hold: () => void;
  release: () => void;
} {
  const scheduler = new ChainVerificationScheduler(database, INTERVAL_SECONDS);
  let runs = 0;
  let gate: { promise: Promise<void>; resolve: () => void } | undefined;
  const internals = scheduler as unknown as {
    verifyUnlessRecent: () => Promise<ScheduledVerificationOutcome>;
    runScheduled: () => Promise<ScheduledVerificationOutcome>;
  };
  internals.verifyUnlessRecent = async () => {
    await gate?.promise;
    return { status: 'skipped', reason: 'other-process' };
  };
  const runScheduled = scheduler.runScheduled.bind(scheduler);
  internals.runScheduled = () => {
    runs += 1;
    return runScheduled();
  };
  return {
    scheduler,
    runs: () => runs,
    hold: () => {
      let resolve: () => void = () => undefined;
      const promise = new Promise<void>((done) => {
        resolve = done;
      });
      gate = { promise, resolve };
    },
    release: () => {
      gate?.resolve();
      gate = undefined;
    },
  };
}

describe('ChainVerificationScheduler timers', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  it('runs once per interval', async () => {
    const { scheduler, runs } = countingScheduler();
    assert.equal(scheduler.start(), true);
    await settle();
    for (let interval = 1; interval <= 3; interval += 1) {
      mock.timers.tick(INTERVAL_MS);
      await settle();
      assert.equal(runs(), interval);
    }
    await scheduler.stop();
    mock.timers.tick(INTERVAL_MS);
    await settle();
    assert.equal(runs(), 3, 'no run after stop()');
  });

  it('restart during a run keeps one timer', async () => {
    const { scheduler, runs, hold, release } = countingScheduler();
    scheduler.start();
    await settle();
    hold();
    mock.timers.tick(INTERVAL_MS);
    await settle();
    assert.equal(runs(), 1, 'the first run is in progress');

    const stopped = scheduler.stop();
    assert.equal(scheduler.start(), true, 'start() during stop() starts the schedule again');
    await settle();
    release();
    await stopped;
    await settle();

    for (let interval = 1; interval <= 3; interval += 1) {
      mock.timers.tick(INTERVAL_MS);
      await settle();
      assert.equal(runs(), 1 + interval, `one run per interval after the restart (interval ${interval})`);
    }
    await scheduler.stop();
  });

  it('restart during the first lookup keeps one timer', async () => {
    let answer: () => void = () => undefined;
    const answered = new Promise<void>((resolve) => {
      answer = resolve;
    });
    const { scheduler, runs } = countingScheduler(emptyDatabase(answered));
    scheduler.start();
    await settle();
    // stop() and start() while the lookup of the newest recorded verification is still pending.
    await scheduler.stop();
    scheduler.start();
    await settle();
    answer();
    await settle();

    mock.timers.tick(INTERVAL_MS);
    await settle();
    assert.equal(runs(), 1);
    mock.timers.tick(INTERVAL_MS);
    await settle();
    assert.equal(runs(), 2);
    await scheduler.stop();
  });
});
