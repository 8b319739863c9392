/**
 * Time arithmetic of feature windows. Events are summed into buckets of a fixed width (aligned
 * to the Unix epoch, UTC), and a window is a whole number of buckets.
 *
 * A feature read as of time `t` covers the complete buckets before the bucket that contains `t`:
 * with `cut = start of the bucket containing t`, a window of width `w` covers events with
 * `cut - w <= event time < cut`. So every value uses only events strictly before `t`, and the
 * events of the current, still open bucket count from the next bucket on.
 */

const UNIT_MS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** Maximum window or bucket width: 400 days. */
export const MAX_DURATION_MS = 400 * UNIT_MS.d;

/**
 * Parses a duration such as `30s`, `15m`, `1h`, `24h` or `30d` into milliseconds. Returns
 * undefined for anything else, including zero and durations above MAX_DURATION_MS.
 */
export function parseDuration(text: string): number | undefined {
  const match = /^([1-9]\d{0,5})([smhd])$/.exec(text);
  if (!match) return undefined;
  const ms = Number(match[1]) * UNIT_MS[match[2]];
  return ms <= MAX_DURATION_MS ? ms : undefined;
}

/** Start of the bucket of width `bucketMs` that contains `timeMs`. */
export function bucketStart(timeMs: number, bucketMs: number): number {
  return Math.floor(timeMs / bucketMs) * bucketMs;
}

/** Half-open range `[from, to)` of event times that a window covers as of `asOfMs`. */
export interface WindowRange {
  from: number;
  to: number;
}

/** Returns the event-time range that a window of `windowMs` covers as of `asOfMs`. */
export function windowRange(asOfMs: number, windowMs: number, bucketMs: number): WindowRange {
  const cut = bucketStart(asOfMs, bucketMs);
  return { from: cut - windowMs, to: cut };
}

/** True when an event at `eventMs` falls inside the window of `windowMs` as of `asOfMs`. */
export function inWindow(eventMs: number, asOfMs: number, windowMs: number, bucketMs: number): boolean {
  const range = windowRange(asOfMs, windowMs, bucketMs);
  return eventMs >= range.from && eventMs < range.to;
}
