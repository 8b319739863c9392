/**
 * Token bucket per tenant: each tenant may send `perMinute` requests in a burst and regains one
 * every 60/perMinute seconds. The count lives in this process only.
 *
 * NOTE: with N gateway replicas a tenant gets up to N times the limit, because replicas do not
 * share buckets. A shared limit needs a store such as PostgreSQL or Redis.
 */
export class TenantRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; updatedMs: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one request from the tenant's bucket; returns the seconds to wait when it is empty, or 0. */
  take(tenant: string): number {
    const now = this.now();
    const refillPerMs = this.perMinute / 60_000;
    const bucket = this.buckets.get(tenant) ?? { tokens: this.perMinute, updatedMs: now };
    bucket.tokens = Math.min(this.perMinute, bucket.tokens + (now - bucket.updatedMs) * refillPerMs);
    bucket.updatedMs = now;
    this.buckets.set(tenant, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - bucket.tokens) / refillPerMs / 1000);
  }
}
