/**
 * The `review` section of a use-case file: which decisions go to a person, how urgent they are,
 * whether two people must agree, and what happens while the use case is suspended.
 */
export type Priority = 1 | 2 | 3;

export interface ReviewThresholdRule {
  /** A numeric feature of the application, or `score` for the model's probability. */
  field: string;
  /** A decision whose value is strictly above this goes to review. */
  above: number;
  priority: Priority;
  fourEyes: boolean;
}

export interface ReviewConfig {
  /** Minutes to the SLA deadline, by priority: [priority 1, priority 2, priority 3]. */
  slaMinutes: [number, number, number];
  /** Every REFER decision becomes a case with this priority. */
  refer: { priority: Priority; fourEyes: boolean };
  thresholds: ReviewThresholdRule[];
  /** Share of automatic decisions (APPROVE and DECLINE) sampled for quality control, 0 to 1. */
  qualitySample: { rate: number; priority: Priority };
  /** Seconds `decide` waits for a reviewer before it returns reviewStatus PENDING; 0 returns at once. */
  holdSeconds: number;
  /** While suspended: `reject` refuses new requests, `review` decides them and sends each to a person. */
  whenSuspended: 'reject' | 'review';
  /** Application fields shown masked to reviewers until one reveals them with a reason. */
  maskedFields: string[];
  /** Role that handles escalated cases and four-eyes disagreements. */
  escalationRole: string;
}

/** Longest hold a use case may configure: a GraphQL call held longer would hit proxy timeouts. */
export const MAX_HOLD_SECONDS = 60;

export const DEFAULT_REVIEW_CONFIG: ReviewConfig = {
  slaMinutes: [60, 240, 1440],
  refer: { priority: 2, fourEyes: false },
  thresholds: [],
  qualitySample: { rate: 0, priority: 3 },
  holdSeconds: 0,
  whenSuspended: 'reject',
  maskedFields: [],
  escalationRole: 'senior-reviewer',
};

/**
 * Fills defaults and checks a use case's review section. Returns the problem as text so the
 * use-case loader can name the file; `numericFields` are the features a threshold may name.
 */
export function resolveReviewConfig(raw: unknown, numericFields: string[], allFields: string[]): ReviewConfig | string {
  if (raw === undefined || raw === null) return DEFAULT_REVIEW_CONFIG;
  if (typeof raw !== 'object' || Array.isArray(raw)) return 'review must be a mapping';
  const input = raw as Partial<ReviewConfig>;
  const config: ReviewConfig = {
    ...DEFAULT_REVIEW_CONFIG,
    ...input,
    refer: { ...DEFAULT_REVIEW_CONFIG.refer, ...(input.refer ?? {}) },
    qualitySample: { ...DEFAULT_REVIEW_CONFIG.qualitySample, ...(input.qualitySample ?? {}) },
    thresholds: (input.thresholds ?? []).map((rule) => ({ ...rule, fourEyes: rule.fourEyes ?? false })),
  };

  const sla = config.slaMinutes;
  if (!Array.isArray(sla) || sla.length !== 3 || !sla.every((minutes) => Number.isInteger(minutes) && minutes > 0)) {
    return 'review.slaMinutes must list three positive whole numbers of minutes, for priorities 1, 2 and 3';
  }
  if (!isPriority(config.refer.priority)) return 'review.refer.priority must be 1, 2 or 3';
  if (!isPriority(config.qualitySample.priority)) return 'review.qualitySample.priority must be 1, 2 or 3';
  const rate = config.qualitySample.rate;
  if (typeof rate !== 'number' || !(rate >= 0 && rate <= 1)) return 'review.qualitySample.rate must be a number from 0 to 1';
  for (const [index, rule] of config.thresholds.entries()) {
    if (rule.field !== 'score' && !numericFields.includes(rule.field)) {
      return `review.thresholds[${index}].field must be "score" or a numeric feature; "${rule.field}" is neither`;
    }
    if (typeof rule.above !== 'number' || !Number.isFinite(rule.above)) return `review.thresholds[${index}].above must be a number`;
    if (!isPriority(rule.priority)) return `review.thresholds[${index}].priority must be 1, 2 or 3`;
  }
  if (!Number.isInteger(config.holdSeconds) || config.holdSeconds < 0 || config.holdSeconds > MAX_HOLD_SECONDS) {
    return `review.holdSeconds must be a whole number from 0 to ${MAX_HOLD_SECONDS}`;
  }
  if (config.whenSuspended !== 'reject' && config.whenSuspended !== 'review') return 'review.whenSuspended must be "reject" or "review"';
  for (const field of config.maskedFields) {
    if (!allFields.includes(field)) return `review.maskedFields names "${field}", which is not a feature of the use case`;
  }
  if (typeof config.escalationRole !== 'string' || config.escalationRole.length === 0) return 'review.escalationRole must name a role';
  return config;
}

function isPriority(value: unknown): value is Priority {
  return value === 1 || value === 2 || value === 3;
}
