import type { UseCaseConfig } from './use-case-config.js';

export type Outcome = 'APPROVE' | 'DECLINE' | 'REFER';

/**
 * Maps a probability of default to an outcome: below `approveBelow` approves, at or above
 * `declineAtOrAbove` declines, and the band between goes to a person (REFER).
 */
export function outcomeForScore(score: number, bands: UseCaseConfig['bands']): Outcome {
  if (score < bands.approveBelow) return 'APPROVE';
  if (score >= bands.declineAtOrAbove) return 'DECLINE';
  return 'REFER';
}
