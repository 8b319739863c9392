import { open } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { DataSource } from 'typeorm';
import { getLogger } from '../../../common/src/index.js';

export type WitnessKind = 'file' | 'http';

/** Outcome of publishing one checkpoint to one witness, as stored in audit.checkpoint_witness_deliveries. */
export interface WitnessDelivery {
  witness: WitnessKind;
  /** File path, or the URL without credentials, query or fragment. */
  target: string;
  status: 'delivered' | 'failed';
  attempts: number;
  /** Reason the last attempt failed, or null when delivered. */
  error: string | null;
}

export interface WitnessOptions {
  /** File that receives every note, appended and fsynced. */
  file?: string;
  /** URL that receives every note as an HTTP POST with content type text/plain. */
  url?: string;
  /** HTTP attempts per checkpoint (default 4). */
  maxAttempts?: number;
  /** Delay before the second attempt in milliseconds, doubled for each later one (default 500). */
  initialBackoffMs?: number;
  /** Time limit of one HTTP attempt in milliseconds (default 5000). */
  attemptTimeoutMs?: number;
}

const DEFAULT_MAX_ATTEMPTS = 4;
const DEFAULT_INITIAL_BACKOFF_MS = 500;
const DEFAULT_ATTEMPT_TIMEOUT_MS = 5000;
const MAX_ERROR_LENGTH = 300;

/**
 * Publishes checkpoint notes to external witnesses: a file that another system ships away, and an
 * HTTP endpoint. A witness that fails is recorded and logged but never raises, so it cannot stop
 * Warden from creating checkpoints.
 */
export class WitnessPublisher {
  private readonly log = getLogger('audit-witness');
  private readonly maxAttempts: number;
  private readonly initialBackoffMs: number;
  private readonly attemptTimeoutMs: number;

  constructor(
    private readonly dataSource: DataSource,
    private readonly options: WitnessOptions = {},
  ) {
    this.maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    this.initialBackoffMs = options.initialBackoffMs ?? DEFAULT_INITIAL_BACKOFF_MS;
    this.attemptTimeoutMs = options.attemptTimeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS;
  }

  /** Whether any witness is configured. */
  get enabled(): boolean {
    return this.options.file !== undefined || this.options.url !== undefined;
  }

  /** Sends the note to every configured witness and records each outcome under the checkpoint id. */
  async publish(checkpointId: number, note: string): Promise<WitnessDelivery[]> {
    const deliveries: WitnessDelivery[] = [];
    if (this.options.file !== undefined) deliveries.push(await this.appendToFile(this.options.file, note));
    if (this.options.url !== undefined) deliveries.push(await this.post(this.options.url, note, checkpointId));

    for (const delivery of deliveries) {
      if (delivery.status === 'delivered') {
        this.log.info({ checkpointId, witness: delivery.witness, target: delivery.target, attempts: delivery.attempts }, 'checkpoint published to witness');
      } else {
        this.log.error(
          { checkpointId, witness: delivery.witness, target: delivery.target, attempts: delivery.attempts, error: delivery.error },
          'checkpoint could not be published to witness',
        );
      }
      await this.record(checkpointId, delivery);
    }
    return deliveries;
  }

  /** Lists the recorded deliveries of one checkpoint, in the order they were recorded. */
  async deliveries(checkpointId: number): Promise<WitnessDelivery[]> {
    const rows: { witness: WitnessKind; target: string; status: WitnessDelivery['status']; attempts: number; error: string | null }[] =
      await this.dataSource.query(
        'SELECT witness, target, status, attempts, error FROM audit.checkpoint_witness_deliveries WHERE checkpoint_id = $1 ORDER BY id',
        [checkpointId],
      );
    return rows.map((row) => ({ ...row, attempts: Number(row.attempts) }));
  }

  /** Appends the note and a blank line, so each note is one block, and syncs before returning. */
  private async appendToFile(path: string, note: string): Promise<WitnessDelivery> {
    const delivery = { witness: 'file' as const, target: path, attempts: 1 };
    try {
      await mkdir(dirname(path), { recursive: true });
      const handle = await open(path, 'a', 0o644);
      try {
        await handle.write(`${note}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
      return { ...delivery, status: 'delivered', error: null };
    } catch (error) {
      return { ...delivery, status: 'failed', error: describeError(error) };
    }
  }

  private async post(url: string, note: string, checkpointId: number): Promise<WitnessDelivery> {
    const target = publicTarget(url);
    let lastError = '';
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      if (attempt > 1) {
        const delayMs = this.initialBackoffMs * 2 ** (attempt - 2);
        this.log.warn({ checkpointId, target, attempt, delayMs, error: lastError }, 'retrying checkpoint witness');
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'text/plain; charset=utf-8' },
          body: note,
          redirect: 'error',
          signal: AbortSignal.timeout(this.attemptTimeoutMs),
        });
        // The body is drained so the connection can be reused; its content carries no meaning here.
        await response.arrayBuffer().catch(() => undefined);
        if (response.ok) return { witness: 'http', target, status: 'delivered', attempts: attempt, error: null };
        lastError = `HTTP ${response.status} ${response.statusText}`.trim();
      } catch (error) {
        lastError = describeError(error);
      }
    }
    return { witness: 'http', target, status: 'failed', attempts: this.maxAttempts, error: lastError };
  }

  private async record(checkpointId: number, delivery: WitnessDelivery): Promise<void> {
    try {
      await this.dataSource.query(
        `INSERT INTO audit.checkpoint_witness_deliveries (checkpoint_id, witness, target, status, attempts, error)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [checkpointId, delivery.witness, delivery.target, delivery.status, delivery.attempts, delivery.error],
      );
    } catch (error) {
      this.log.error({ err: error, checkpointId, witness: delivery.witness }, 'witness delivery could not be recorded');
    }
  }
}

/** Returns the URL without user info, query or fragment, which may carry secrets. */
function publicTarget(url: string): string {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
}

function describeError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const base = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  const detail = cause?.code ?? cause?.message;
  const text = detail ? `${base} (${detail})` : base;
  return text.slice(0, MAX_ERROR_LENGTH);
}
