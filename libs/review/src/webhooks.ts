import { createHmac, randomUUID } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import { getLogger } from '../../common/src/index.js';

export interface WebhookSettings {
  url: string | undefined;
  secret: string | undefined;
  /** Delay before the first retry; each later retry waits twice as long, up to an hour. */
  retryBaseMs?: number;
  /** Attempts before a delivery is marked FAILED. */
  maxAttempts?: number;
  /** Time limit of one HTTP attempt. */
  timeoutMs?: number;
}

const DEFAULT_RETRY_BASE_MS = 2_000;
const DEFAULT_MAX_ATTEMPTS = 10;
const DEFAULT_TIMEOUT_MS = 5_000;
const MAX_RETRY_DELAY_MS = 3_600_000;
/** How long a claimed delivery stays invisible to other dispatchers while it is being sent. */
const LEASE_MS = 60_000;
const BATCH = 20;

/**
 * Signs a webhook body: HMAC-SHA256 over `<unix seconds>.<body>`, sent as
 * `Warden-Signature: t=<unix seconds>,v1=<hex>`. Receivers recompute it with the shared key and
 * reject old timestamps to stop replays.
 */
export function signWebhook(secret: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex');
  return `t=${timestampSeconds},v1=${mac}`;
}

/**
 * The outbox side: rows written in the same transaction as the event they announce, so an
 * outcome that committed is always delivered later, even after a crash.
 */
export class WebhookOutbox {
  constructor(private readonly settings: WebhookSettings) {}

  get enabled(): boolean {
    return Boolean(this.settings.url && this.settings.secret);
  }

  async enqueue(manager: EntityManager, tenant: string, eventType: string, data: Record<string, unknown>): Promise<void> {
    if (!this.enabled) return;
    const id = randomUUID();
    const body = { id, type: eventType, tenant, createdAt: new Date().toISOString(), data };
    await manager.query(
      `INSERT INTO review.webhook_outbox (id, tenant, event_type, url, body, next_attempt_at, created_at)
       VALUES ($1, $2, $3, $4, $5, now(), now())`,
      [id, tenant, eventType, this.settings.url, JSON.stringify(body)],
    );
  }
}

interface DueDelivery {
  id: string;
  url: string;
  event_type: string;
  body: Record<string, unknown>;
  attempts: number;
}

/**
 * Sends pending webhooks with retries and exponential backoff, and logs every attempt in
 * review.webhook_attempts. Deliveries are claimed with a lease in a short transaction and sent
 * outside it, so a slow receiver never keeps a database connection busy. Several gateway replicas
 * can run dispatchers at once (SKIP LOCKED). Delivery is at least once: receivers deduplicate on the
 * `Warden-Delivery` header.
 */
export class WebhookDispatcher {
  private readonly log = getLogger('webhooks');
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly dataSource: DataSource,
    private readonly settings: WebhookSettings,
  ) {}

  /** Polls for due deliveries every `intervalMs` until stop(). Does nothing when webhooks are off. */
  start(intervalMs = 1_000): void {
    if (!this.settings.url || !this.settings.secret || this.timer) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.deliverDue()
        .then(() => undefined)
        .catch((error: unknown) => this.log.error({ err: error }, 'webhook dispatch failed'))
        .finally(() => (this.running = undefined));
    }, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Sends every delivery that is due now; returns how many were attempted. */
  async deliverDue(): Promise<number> {
    const secret = this.settings.secret;
    if (!secret) return 0;
    const due: DueDelivery[] = await this.dataSource.transaction(async (manager) => {
      const rows: DueDelivery[] = await manager.query(
        `SELECT id, url, event_type, body, attempts FROM review.webhook_outbox
          WHERE status = 'PENDING' AND next_attempt_at <= now()
          ORDER BY next_attempt_at LIMIT ${BATCH} FOR UPDATE SKIP LOCKED`,
      );
      if (rows.length > 0) {
        await manager.query(`UPDATE review.webhook_outbox SET next_attempt_at = now() + interval '${LEASE_MS} milliseconds' WHERE id = ANY($1::uuid[])`, [
          rows.map((row) => row.id),
        ]);
      }
      return rows;
    });
    // NOTE: deliveries are sent one after another, so a receiver that hangs until the timeout slows
    // every later delivery of this replica to one attempt per timeout.
    for (const delivery of due) await this.attempt(delivery, secret);
    return due.length;
  }

  private async attempt(delivery: DueDelivery, secret: string): Promise<void> {
    const attempt = delivery.attempts + 1;
    const body = JSON.stringify(delivery.body);
    const started = Date.now();
    let status: number | null = null;
    let error: string | null = null;
    try {
      const response = await fetch(delivery.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'warden-delivery': delivery.id,
          'warden-event': delivery.event_type,
          'warden-signature': signWebhook(secret, Math.floor(Date.now() / 1000), body),
        },
        body,
        redirect: 'error',
        signal: AbortSignal.timeout(this.settings.timeoutMs ?? DEFAULT_TIMEOUT_MS),
      });
      status = response.status;
      await response.body?.cancel();
      if (status < 200 || status >= 300) error = `receiver answered HTTP ${status}`;
    } catch (caught) {
      // Only the error's class and a short message are kept, so a receiver's response never reaches the log.
      error = (caught as Error).name === 'TimeoutError' ? 'timed out' : `request failed (${(caught as Error).name})`;
    }
    const durationMs = Date.now() - started;
    const delivered = error === null;
    const maxAttempts = this.settings.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    const delayMs = Math.min((this.settings.retryBaseMs ?? DEFAULT_RETRY_BASE_MS) * 2 ** (attempt - 1), MAX_RETRY_DELAY_MS);
    let nextStatus = 'PENDING';
    if (delivered) nextStatus = 'DELIVERED';
    else if (attempt >= maxAttempts) nextStatus = 'FAILED';

    await this.dataSource.transaction(async (manager) => {
      await manager.query(
        'INSERT INTO review.webhook_attempts (delivery_id, attempt, http_status, error, duration_ms, created_at) VALUES ($1, $2, $3, $4, $5, now())',
        [delivery.id, attempt, status, error, durationMs],
      );
      await manager.query(
        `UPDATE review.webhook_outbox SET attempts = $2, status = $3,
            delivered_at = CASE WHEN $3 = 'DELIVERED' THEN now() ELSE NULL END,
            next_attempt_at = now() + ($4::text || ' milliseconds')::interval
          WHERE id = $1`,
        [delivery.id, attempt, nextStatus, String(delayMs)],
      );
    });
    if (nextStatus === 'FAILED') this.log.error({ deliveryId: delivery.id, attempts: attempt, reason: error }, 'webhook delivery gave up');
    else if (!delivered) this.log.warn({ deliveryId: delivery.id, attempt, reason: error, retryInMs: delayMs }, 'webhook delivery failed; will retry');
  }
}
