import type { CaseState } from '../api/review.types';

const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

export function formatDateTime(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : dateTimeFormat.format(date);
}

/** Formats a 0..1 probability as a percentage with one decimal, for example 0.4237 as "42.4 %". */
export function formatPercent(probability: number): string {
  return `${(probability * 100).toFixed(1)} %`;
}

/** Formats a log-odds contribution with an explicit sign and a true minus sign. */
export function formatContribution(value: number): string {
  const magnitude = Math.abs(value).toFixed(2);
  if (value > 0) return `+${magnitude}`;
  if (value < 0) return `\u2212${magnitude}`;
  return magnitude;
}

/** Formats a duration as days, hours, minutes and seconds, keeping the two largest units. */
export function formatDuration(milliseconds: number): string {
  const totalSeconds = Math.floor(Math.abs(milliseconds) / 1000);
  const days = Math.floor(totalSeconds / 86_400);
  const hours = Math.floor((totalSeconds % 86_400) / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;

  if (days > 0) return `${days} d ${hours} h`;
  if (hours > 0) return `${hours} h ${String(minutes).padStart(2, '0')} min`;
  if (minutes > 0) return `${minutes} min ${String(seconds).padStart(2, '0')} s`;
  return `${seconds} s`;
}

const STATE_LABELS: Record<CaseState, string> = {
  OPEN: 'Open',
  CLAIMED: 'Claimed',
  AWAITING_SECOND_REVIEW: 'Awaiting second review',
  ESCALATED: 'Escalated',
  INFO_REQUESTED: 'Information requested',
  DECIDED: 'Decided',
};

export function stateLabel(state: CaseState): string {
  return STATE_LABELS[state] ?? state;
}

const CASE_REASON_LABELS: Record<string, { short: string; long: string }> = {
  REFER_BAND: { short: 'Refer band', long: 'Score in the refer band' },
  THRESHOLD_EXCEEDED: { short: 'Above a threshold', long: 'A value above a review threshold' },
  QUALITY_SAMPLE: { short: 'Quality sample', long: 'Quality sample' },
  USE_CASE_SUSPENDED: { short: 'Use case suspended', long: 'Use case suspended' },
};

/** Returns a readable label for a reason a case exists, or the code itself when it is unknown. */
export function caseReasonLabel(reason: string, length: 'short' | 'long' = 'long'): string {
  return CASE_REASON_LABELS[reason]?.[length] ?? reason;
}

/** Returns the first characters of an id, enough to tell cases apart on one screen. */
export function shortId(id: string): string {
  return id.length > 8 ? id.slice(0, 8) : id;
}
