import { EventEmitter, on } from 'node:events';
import type { CaseState, FinalOutcome } from './case-state.js';

/** A change in the review of a decision, as a bank application receives it. */
export interface DecisionUpdate {
  tenant: string;
  decisionId: string;
  /** Null when the decision needs no review. */
  caseId: string | null;
  state: CaseState | null;
  /** COMPLETED once a person has decided; PENDING while the case is open; NOT_REQUIRED without a case. */
  reviewStatus: 'PENDING' | 'COMPLETED' | 'NOT_REQUIRED';
  finalOutcome: FinalOutcome | null;
}

/**
 * In-process notifications of review progress, keyed by decision id. The GraphQL subscription and
 * hold mode listen here; the review service publishes after each commit.
 *
 * NOTE: a notification reaches listeners of this process only. Hold mode also polls the database,
 * so it works across replicas. Subscribers on another replica learn the outcome from the webhook
 * or by reading the decision.
 */
export class DecisionUpdates {
  private readonly emitter = new EventEmitter();

  constructor() {
    // One listener per subscriber and per held request; the count is bounded by open connections.
    this.emitter.setMaxListeners(0);
  }

  publish(update: DecisionUpdate): void {
    this.emitter.emit(key(update.decisionId), update);
  }

  /**
   * Yields the current state of a decision from `current`, then every change, and ends after the
   * review completes (or at once when none is needed). The listener is registered before
   * `current` reads the database, so a change between the two is not missed.
   */
  async *watch(decisionId: string, current: () => Promise<DecisionUpdate>, signal?: AbortSignal): AsyncGenerator<DecisionUpdate> {
    const live = on(this.emitter, key(decisionId), { signal });
    try {
      const first = await current();
      yield first;
      if (first.reviewStatus !== 'PENDING') return;
      for await (const [update] of live) {
        yield update as DecisionUpdate;
        if ((update as DecisionUpdate).reviewStatus !== 'PENDING') return;
      }
    } catch (error) {
      if ((error as Error).name !== 'AbortError') throw error;
    } finally {
      await live.return?.();
    }
  }

  /** Resolves with the first update that completes the decision, or null after `milliseconds`. */
  waitForCompletion(decisionId: string, milliseconds: number): Promise<DecisionUpdate | null> {
    return new Promise((resolve) => {
      const listener = (update: DecisionUpdate) => {
        if (update.reviewStatus !== 'COMPLETED') return;
        clearTimeout(timer);
        this.emitter.off(key(decisionId), listener);
        resolve(update);
      };
      const timer = setTimeout(() => {
        this.emitter.off(key(decisionId), listener);
        resolve(null);
      }, milliseconds);
      this.emitter.on(key(decisionId), listener);
    });
  }
}

function key(decisionId: string): string {
  return `decision:${decisionId}`;
}
