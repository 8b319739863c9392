import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { digestJson, PolicyFileError } from '../../../common/src/index.js';

/** How long the records of one use case are kept, and the rule that sets the floor. */
export interface RetentionRule {
  useCase: string;
  /** Legal minimum in calendar months; a purge never comes earlier. */
  minimumMonths: number;
  /** Age in calendar months after which a record is purged; at least minimumMonths. */
  purgeAfterMonths: number;
  /** The law or policy behind minimumMonths, such as 12 CFR 1002.12(b)(1). */
  source: string;
}

/** How long the placeholder vault keeps the original values behind the proxy's placeholders. */
export interface VaultRetentionRule {
  purgeAfterMonths: number;
  source: string;
}

/**
 * How long dead letters are kept whose subject names no dataset under `datasets`: events on a
 * subject of no dataset, or of a dataset without a rule.
 */
export interface OtherDeadLettersRule {
  purgeAfterMonths: number;
  source: string;
}

/** How long the reasons of a released legal hold are kept after its release. */
export interface LegalHoldTextRule {
  /** Calendar months after the release. */
  purgeAfterMonths: number;
  source: string;
}

/** How long the ingested rows of one dataset and the feature aggregates built from them are kept. */
export interface DatasetRetentionRule {
  dataset: string;
  /** Legal minimum in calendar months after ingestion. */
  minimumMonths: number;
  /** Age in calendar months after which ingested rows are deleted, at least minimumMonths. */
  purgeAfterMonths: number;
  /** The law or policy behind minimumMonths, such as 31 CFR 1010.430(d). */
  source: string;
}

export interface RetentionPolicy {
  rules: RetentionRule[];
  /** Absent: ingested records, quarantine rows, dead letters and feature aggregates are kept. */
  datasets?: DatasetRetentionRule[];
  /** Absent: vault entries are kept until their data subject's tenant deletes them. */
  placeholderVault?: VaultRetentionRule;
  /** Absent: the reasons of released holds are kept. */
  legalHoldText?: LegalHoldTextRule;
  /** Absent: dead letters that no dataset rule covers are kept. */
  otherDeadLetters?: OtherDeadLettersRule;
  /** SHA-256 of the canonical JSON of the rules, recorded with every purge. */
  hash: string;
}

export class RetentionPolicyError extends PolicyFileError {
  constructor(
    readonly problem: string,
    file = 'policies/retention.yaml',
  ) {
    super(`Invalid ${file}: ${problem}`);
    this.name = 'RetentionPolicyError';
  }
}

/** Reads `<policyDir>/retention.yaml`; no file means no rule, so nothing is ever purged. */
export function loadRetentionPolicy(policyDir: string): RetentionPolicy {
  const path = join(policyDir, 'retention.yaml');
  if (!existsSync(path)) return { rules: [], hash: digestJson([]) };
  try {
    return parseRetentionPolicy(readFileSync(path, 'utf8'));
  } catch (error) {
    // Name the file that was read, which differs from the default when WARDEN_POLICY_DIR is set.
    if (error instanceof RetentionPolicyError) throw new RetentionPolicyError(error.problem, path);
    throw error;
  }
}

/** The top-level fields of retention.yaml. */
const POLICY_FIELDS = ['version', 'rules', 'datasets', 'placeholderVault', 'legalHoldText', 'otherDeadLetters'] as const;

export function parseRetentionPolicy(text: string): RetentionPolicy {
  const raw = parse(text) as Partial<Record<(typeof POLICY_FIELDS)[number], unknown>> | null;
  if (!raw || raw.version !== 1) throw new RetentionPolicyError('version must be 1');
  // A misspelt section, such as otherDeadletters, would otherwise keep its rows without a word.
  const unknown = Object.keys(raw).find((field) => !(POLICY_FIELDS as readonly string[]).includes(field));
  if (unknown !== undefined) {
    throw new RetentionPolicyError(`${unknown.slice(0, 64)} is not a section of the retention policy; use ${POLICY_FIELDS.join(', ')}`);
  }
  if (!raw.rules || typeof raw.rules !== 'object' || Array.isArray(raw.rules)) {
    throw new RetentionPolicyError('rules must map each use case name to { minimumMonths, purgeAfterMonths, source }');
  }

  const rules: RetentionRule[] = Object.entries(raw.rules as Record<string, unknown>).map(([useCase, value]) => ({
    useCase,
    ...parseMinimumRule(value, `rules.${useCase}`),
  }));
  const datasets = parseDatasetRules(raw.datasets);
  const placeholderVault = parsePeriodRule(raw.placeholderVault, 'placeholderVault');
  const legalHoldText = parsePeriodRule(raw.legalHoldText, 'legalHoldText');
  const otherDeadLetters = parsePeriodRule(raw.otherDeadLetters, 'otherDeadLetters');
  return withHash({
    rules,
    ...(datasets ? { datasets } : {}),
    ...(placeholderVault ? { placeholderVault } : {}),
    ...(legalHoldText ? { legalHoldText } : {}),
    ...(otherDeadLetters ? { otherDeadLetters } : {}),
  });
}

/** Dataset names as policies/datasets defines them; the purge matches stream subjects by this name. */
const DATASET_NAME = /^[a-z][a-z0-9-]{0,62}$/;

function parseDatasetRules(value: unknown): DatasetRetentionRule[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new RetentionPolicyError('datasets must map each dataset name to { minimumMonths, purgeAfterMonths, source }');
  }
  return Object.entries(value as Record<string, unknown>).map(([dataset, rule]) => {
    if (!DATASET_NAME.test(dataset)) {
      throw new RetentionPolicyError(`datasets.${dataset.slice(0, 64)} is not a dataset name; use the \`dataset\` of a file in policies/datasets, such as paysim-transactions`);
    }
    return { dataset, ...parseMinimumRule(rule, `datasets.${dataset}`) };
  });
}

/** The fields of a rule with a legal minimum, under `rules` and `datasets`. */
const MINIMUM_RULE_FIELDS = ['minimumMonths', 'purgeAfterMonths', 'source'] as const;

/** Checks one rule with a legal minimum; `path` names it in errors, such as rules.credit-application. */
function parseMinimumRule(value: unknown, path: string): { minimumMonths: number; purgeAfterMonths: number; source: string } {
  if (value !== undefined && value !== null && (typeof value !== 'object' || Array.isArray(value))) {
    throw new RetentionPolicyError(`${path} must be a mapping of ${MINIMUM_RULE_FIELDS.join(', ')}`);
  }
  // A misspelt field would otherwise be dropped without a word, such as purgeAfterDays.
  const unknown = Object.keys(value ?? {}).find((field) => !(MINIMUM_RULE_FIELDS as readonly string[]).includes(field));
  if (unknown !== undefined) {
    throw new RetentionPolicyError(`${path}.${unknown.slice(0, 64)} is not a rule field; use ${MINIMUM_RULE_FIELDS.join(', ')}`);
  }
  const rule = (value ?? {}) as Partial<RetentionRule>;
  const months = (field: 'minimumMonths' | 'purgeAfterMonths'): number => {
    const months = rule[field];
    if (!Number.isInteger(months) || (months as number) < 1 || (months as number) > 1200) {
      throw new RetentionPolicyError(`${path}.${field} must be a whole number of months from 1 to 1200`);
    }
    return months as number;
  };
  const minimumMonths = months('minimumMonths');
  const purgeAfterMonths = months('purgeAfterMonths');
  if (purgeAfterMonths < minimumMonths) {
    throw new RetentionPolicyError(`${path}.purgeAfterMonths (${purgeAfterMonths}) is below minimumMonths (${minimumMonths}); raise it to at least ${minimumMonths}`);
  }
  if (typeof rule.source !== 'string' || rule.source.trim().length === 0) {
    throw new RetentionPolicyError(`${path}.source must name the law or policy behind minimumMonths`);
  }
  return { minimumMonths, purgeAfterMonths, source: rule.source.trim() };
}

/**
 * Adds the hash of the rules. The hash of a policy without the optional rules is unchanged from
 * before they existed: the bare list of rules, or an object of the rules and the optional rules present.
 */
function withHash(policy: Omit<RetentionPolicy, 'hash'>): RetentionPolicy {
  const optional = policy.datasets || policy.placeholderVault || policy.legalHoldText || policy.otherDeadLetters;
  const hashed = optional ? digestJson(policy) : digestJson(policy.rules);
  return { ...policy, hash: hashed };
}

/** The fields of a rule without a legal minimum. */
const PERIOD_RULE_FIELDS = ['purgeAfterMonths', 'source'] as const;

function parsePeriodRule(value: unknown, name: 'placeholderVault' | 'legalHoldText' | 'otherDeadLetters'): { purgeAfterMonths: number; source: string } | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new RetentionPolicyError(`${name} must be a mapping of ${PERIOD_RULE_FIELDS.join(', ')}`);
  }
  const unknown = Object.keys(value).find((field) => !(PERIOD_RULE_FIELDS as readonly string[]).includes(field));
  if (unknown !== undefined) {
    throw new RetentionPolicyError(`${name}.${unknown.slice(0, 64)} is not a rule field; use ${PERIOD_RULE_FIELDS.join(', ')}`);
  }
  const rule = value as Partial<VaultRetentionRule>;
  if (!Number.isInteger(rule.purgeAfterMonths) || (rule.purgeAfterMonths as number) < 1 || (rule.purgeAfterMonths as number) > 1200) {
    throw new RetentionPolicyError(`${name}.purgeAfterMonths must be a whole number of months from 1 to 1200`);
  }
  if (typeof rule.source !== 'string' || rule.source.trim().length === 0) {
    throw new RetentionPolicyError(`${name}.source must name the law or policy behind the period`);
  }
  return { purgeAfterMonths: rule.purgeAfterMonths as number, source: rule.source.trim() };
}

/** A dataset purged sooner than the decisions of a use case that trains on it or reads its features. */
export interface DatasetPeriodConflict {
  dataset: string;
  useCase: string;
  datasetPurgeAfterMonths: number;
  useCasePurgeAfterMonths: number;
}

/**
 * Returns each dataset rule whose purgeAfterMonths is below that of a use case linked to the
 * dataset (`linkedUseCases` lists them). The use case's kept decisions then outlive the records
 * and buckets their features came from, so their replay reports different values.
 */
export function datasetPeriodConflicts(policy: RetentionPolicy, linkedUseCases: (dataset: string) => readonly string[]): DatasetPeriodConflict[] {
  const conflicts: DatasetPeriodConflict[] = [];
  for (const datasetRule of policy.datasets ?? []) {
    for (const useCase of linkedUseCases(datasetRule.dataset)) {
      const useCaseRule = policy.rules.find((rule) => rule.useCase === useCase);
      if (useCaseRule && useCaseRule.purgeAfterMonths > datasetRule.purgeAfterMonths) {
        conflicts.push({ dataset: datasetRule.dataset, useCase, datasetPurgeAfterMonths: datasetRule.purgeAfterMonths, useCasePurgeAfterMonths: useCaseRule.purgeAfterMonths });
      }
    }
  }
  return conflicts;
}

/**
 * Returns the instant before which records of `rule` are purged at `now`: now minus
 * purgeAfterMonths calendar months in UTC, clamped to the last day of a shorter month (31 March
 * minus one month is 28 or 29 February), so a record is never purged a day early.
 */
export function purgeCutoff(rule: RetentionRule, now: Date): Date {
  return addCalendarMonths(now, -rule.purgeAfterMonths);
}

/**
 * Returns the instant at which a record created at `createdAt` leaves the legal minimum of `rule`:
 * createdAt plus minimumMonths calendar months in UTC, clamped to the last day of a shorter month.
 * An erasure before this instant is rejected.
 */
export function retentionMinimumEnds(rule: RetentionRule, createdAt: Date): Date {
  return addCalendarMonths(createdAt, rule.minimumMonths);
}

function addCalendarMonths(time: Date, months: number): Date {
  const year = time.getUTCFullYear();
  const month = time.getUTCMonth() + months;
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  const day = Math.min(time.getUTCDate(), lastDay);
  return new Date(Date.UTC(year, month, day, time.getUTCHours(), time.getUTCMinutes(), time.getUTCSeconds(), time.getUTCMilliseconds()));
}
