/**
 * RFC 3339 date-time with an explicit offset: 2026-01-02T05:00:00Z, 2026-01-02T06:00:00.250+01:00.
 * Seconds and fractions are optional; a time zone is not.
 */
const DATE_TIME_PATTERN = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):(\d{2}))$/;

/** Earliest and latest accepted instants: a bank's records fall between 1970 and 9999. */
const MIN_TIME_MS = Date.UTC(1970, 0, 1);
const MAX_TIME_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * Parses an RFC 3339 date-time strictly, or returns undefined. Unlike `new Date(text)`, it rejects
 * calendar dates that do not exist (2026-02-30 is not read as 2026-03-02), times without a zone,
 * and years outside 1970 to 9999.
 */
export function parseDateTime(text: unknown): Date | undefined {
  if (typeof text !== 'string') return undefined;
  const match = DATE_TIME_PATTERN.exec(text);
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second = '0', offsetHours = '0', offsetMinutes = '0'] = match;
  const monthNumber = Number(month);
  const daysInMonth = new Date(Date.UTC(Number(year), monthNumber, 0)).getUTCDate();
  if (monthNumber < 1 || monthNumber > 12 || Number(day) < 1 || Number(day) > daysInMonth) return undefined;
  if (Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59 || Number(offsetHours) > 23 || Number(offsetMinutes) > 59) return undefined;
  const time = new Date(text);
  const ms = time.getTime();
  return Number.isNaN(ms) || ms < MIN_TIME_MS || ms > MAX_TIME_MS ? undefined : time;
}

/** A calendar date alone: 2026-12-01. */
const CALENDAR_DATE_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;

/**
 * Parses a calendar date (2026-12-01, read as midnight UTC) or an RFC 3339 date-time with a zone
 * (parseDateTime), or returns undefined. A date that does not exist (2026-02-30) and a time
 * without a zone (2026-12-01T08:00:00, which `new Date` reads in the host's zone) are rejected.
 */
export function parseDateOrDateTime(text: unknown): Date | undefined {
  if (typeof text !== 'string') return undefined;
  const match = CALENDAR_DATE_PATTERN.exec(text);
  if (!match) return parseDateTime(text);
  return parseDateTime(`${text}T00:00:00Z`);
}

