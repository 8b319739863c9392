import { createHash } from 'node:crypto';
import type { Priority, ReviewConfig } from './review-config.js';

/**
 * A reason a case exists; a case lists every rule that matched. LOW_GROUNDEDNESS is a generated
 * answer that its citations do not support well enough.
 */
export type CaseReason = 'REFER_BAND' | 'THRESHOLD_EXCEEDED' | 'QUALITY_SAMPLE' | 'USE_CASE_SUSPENDED' | 'LOW_GROUNDEDNESS';

export interface RoutingInput {
  decisionId: string;
  outcome: 'APPROVE' | 'DECLINE' | 'REFER';
  score: number;
  features: Record<string, string | number>;
  /** The use case is suspended and configured to send new requests to review. */
  suspended: boolean;
}

export interface RoutingResult {
  reasons: CaseReason[];
  /** Human-readable detail of each threshold that matched, such as `credit_amount 18000 > 15000`. */
  details: string[];
  priority: Priority;
  fourEyes: boolean;
  slaMinutes: number;
}

/**
 * Applies a use case's review rules to one decision. Returns null when no person needs to see it.
 * The quality sample is drawn from the decision id, so a replay or an audit reaches the same
 * verdict without a stored random number.
 */
export function routeForReview(config: ReviewConfig, input: RoutingInput): RoutingResult | null {
  const reasons: CaseReason[] = [];
  const details: string[] = [];
  const priorities: Priority[] = [];
  let fourEyes = false;

  if (input.suspended) {
    reasons.push('USE_CASE_SUSPENDED');
    priorities.push(1);
  }
  if (input.outcome === 'REFER') {
    reasons.push('REFER_BAND');
    priorities.push(config.refer.priority);
    fourEyes ||= config.refer.fourEyes;
  }
  for (const rule of config.thresholds) {
    const value = rule.field === 'score' ? input.score : input.features[rule.field];
    if (typeof value === 'number' && value > rule.above) {
      if (!reasons.includes('THRESHOLD_EXCEEDED')) reasons.push('THRESHOLD_EXCEEDED');
      details.push(`${rule.field} ${value} > ${rule.above}`);
      priorities.push(rule.priority);
      fourEyes ||= rule.fourEyes;
    }
  }
  if (reasons.length === 0 && inQualitySample(input.decisionId, config.qualitySample.rate)) {
    reasons.push('QUALITY_SAMPLE');
    priorities.push(config.qualitySample.priority);
  }
  if (reasons.length === 0) return null;

  const priority = Math.min(...priorities) as Priority;
  return { reasons, details, priority, fourEyes, slaMinutes: config.slaMinutes[priority - 1] };
}

/** Tells whether a decision id falls in a sample of `rate`, reading the first 32 bits of its SHA-256 as a fraction. */
export function inQualitySample(decisionId: string, rate: number): boolean {
  if (rate <= 0) return false;
  if (rate >= 1) return true;
  const fraction = createHash('sha256').update(decisionId).digest().readUInt32BE(0) / 2 ** 32;
  return fraction < rate;
}
