import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { BadUserInputError, FailedPreconditionError, NotFoundError, sha256Hex, type FieldError } from '../../common/src/index.js';
import type { Attribution } from './linear-shap.js';

/** One adverse-action statement, for a whole feature or for one of its category codes. */
export interface ReasonCodeEntry {
  code: string;
  feature: string;
  /** Category code this entry is specific to; without it the entry covers the whole feature. */
  level?: string;
  description: string;
  /** True for attributes that may not be a basis for a credit decision (ECOA: sex, marital status, national origin). */
  prohibitedBasis?: boolean;
}

export interface ReasonCodeMap {
  useCase: string;
  version: number;
  reasonCodes: ReasonCodeEntry[];
}

/** A reason stated to the applicant, with the log-odds of default its feature added. */
export interface ReasonCode {
  code: string;
  description: string;
  contribution: number;
}

/** The official commentary to Regulation B (comment 9(b)(2)-1) finds more than four reasons unlikely to help an applicant. */
export const DEFAULT_MAX_REASON_CODES = 4;

/**
 * Picks the principal reasons for an adverse action: the features with the largest positive
 * contribution toward default, mapped through the reason-code map. Features that lowered the
 * risk, or left it unchanged, are never cited. Features that map to the same code are merged and
 * their contributions added, so one statement never appears twice.
 * Raises FailedPreconditionError when a feature has no reason code or is a prohibited basis.
 */
export function selectReasonCodes(attributions: readonly Attribution[], map: ReasonCodeMap, max = DEFAULT_MAX_REASON_CODES): ReasonCode[] {
  if (!Number.isInteger(max) || max < 1) {
    throw new BadUserInputError(`max must be a positive integer, got ${max}.`, [{ field: '/max', message: 'must be >= 1' }]);
  }

  const byCode = new Map<string, ReasonCode>();
  for (const attribution of attributions) {
    if (!(attribution.contribution > 0)) continue;
    const entry = findEntry(map, attribution);
    if (entry.prohibitedBasis) {
      throw new FailedPreconditionError(
        `Feature ${attribution.feature} is a prohibited basis and raised this applicant's risk. Retrain the ${map.useCase} model without it.`,
      );
    }
    const reason = byCode.get(entry.code);
    if (reason) reason.contribution += attribution.contribution;
    else byCode.set(entry.code, { code: entry.code, description: entry.description, contribution: attribution.contribution });
  }

  return [...byCode.values()].sort((a, b) => b.contribution - a.contribution || a.code.localeCompare(b.code)).slice(0, max);
}

/** Raises FailedPreconditionError when a model would use a feature the map marks as a prohibited basis. */
export function assertNoProhibitedBasis(features: readonly string[], map: ReasonCodeMap): void {
  const prohibited = new Set(map.reasonCodes.filter((entry) => entry.prohibitedBasis).map((entry) => entry.feature));
  const used = features.filter((feature) => prohibited.has(feature));
  if (used.length > 0) {
    throw new FailedPreconditionError(
      `The ${map.useCase} model uses ${used.join(', ')}, which may not be a basis for a credit decision. Remove them from the feature spec.`,
    );
  }
}

/** Raises FailedPreconditionError naming every feature without a reason code. */
export function assertReasonCodesCover(features: readonly string[], map: ReasonCodeMap): void {
  const covered = new Set(map.reasonCodes.filter((entry) => entry.level === undefined).map((entry) => entry.feature));
  const missing = features.filter((feature) => !covered.has(feature));
  if (missing.length > 0) {
    throw new FailedPreconditionError(`The ${map.useCase} reason-code map has no entry for ${missing.join(', ')}. Add one per feature.`);
  }
}

function findEntry(map: ReasonCodeMap, attribution: Attribution): ReasonCodeEntry {
  const level = typeof attribution.value === 'string' ? attribution.value : undefined;
  const specific = level === undefined ? undefined : map.reasonCodes.find((entry) => entry.feature === attribution.feature && entry.level === level);
  const general = map.reasonCodes.find((entry) => entry.feature === attribution.feature && entry.level === undefined);
  const entry = specific ?? general;
  if (!entry) {
    throw new FailedPreconditionError(`The ${map.useCase} reason-code map has no entry for feature ${attribution.feature}. Add one.`);
  }
  return entry;
}

const USE_CASE_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

/**
 * Reads `<policyDir>/reason-codes/<useCase>.yaml` and validates it. Returns the map and the SHA-256
 * of the file bytes, which a decision record stores to show which statements were in force.
 */
export async function loadReasonCodeMap(policyDir: string, useCase: string): Promise<{ map: ReasonCodeMap; sha256: string }> {
  if (!USE_CASE_PATTERN.test(useCase)) {
    throw new BadUserInputError(`Invalid use case name "${useCase}".`, [
      { field: '/useCase', message: 'must be lowercase letters, digits and hyphens, such as credit-application' },
    ]);
  }
  const path = join(policyDir, 'reason-codes', `${useCase}.yaml`);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new NotFoundError(`No reason-code map for use case ${useCase}: add reason-codes/${useCase}.yaml to the policy folder.`);
    }
    throw error;
  }
  const map = parseReasonCodeMap(bytes.toString('utf8'), `reason-codes/${useCase}.yaml`);
  if (map.useCase !== useCase) {
    throw new BadUserInputError(`reason-codes/${useCase}.yaml declares useCase ${map.useCase}; it must match the file name.`);
  }
  return { map, sha256: sha256Hex(bytes) };
}

/** Parses and validates the YAML text of a reason-code map; `source` names it in errors. */
export function parseReasonCodeMap(text: string, source: string): ReasonCodeMap {
  let document: unknown;
  try {
    document = parse(text);
  } catch (error) {
    throw new BadUserInputError(`${source} is not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }

  const errors: FieldError[] = [];
  const root = (document ?? {}) as Record<string, unknown>;
  if (typeof root.useCase !== 'string') errors.push({ field: '/useCase', message: 'must be a string' });
  if (!Number.isInteger(root.version)) errors.push({ field: '/version', message: 'must be an integer' });
  if (!Array.isArray(root.reasonCodes) || root.reasonCodes.length === 0) {
    errors.push({ field: '/reasonCodes', message: 'must be a non-empty list' });
    throw new BadUserInputError(`Invalid reason-code map ${source}.`, errors);
  }

  const reasonCodes: ReasonCodeEntry[] = [];
  const seenKeys = new Set<string>();
  const descriptionByCode = new Map<string, string>();
  root.reasonCodes.forEach((raw: unknown, index: number) => {
    const entry = (raw ?? {}) as Record<string, unknown>;
    const at = `/reasonCodes/${index}`;
    const before = errors.length;
    if (typeof entry.code !== 'string' || !/^[A-Z]{1,4}\d{1,4}$/.test(entry.code)) errors.push({ field: `${at}/code`, message: 'must look like RB01' });
    if (typeof entry.feature !== 'string' || entry.feature === '') errors.push({ field: `${at}/feature`, message: 'must be a feature name' });
    if (entry.level !== undefined && typeof entry.level !== 'string') errors.push({ field: `${at}/level`, message: 'must be a category code' });
    if (typeof entry.description !== 'string' || entry.description.trim() === '' || entry.description.length > 200) {
      errors.push({ field: `${at}/description`, message: 'must be a statement of 1 to 200 characters' });
    }
    if (entry.prohibitedBasis !== undefined && typeof entry.prohibitedBasis !== 'boolean') {
      errors.push({ field: `${at}/prohibitedBasis`, message: 'must be true or false' });
    }
    if (errors.length > before) return;

    const key = `${entry.feature}\u0000${entry.level ?? ''}`;
    if (seenKeys.has(key)) errors.push({ field: at, message: `repeats the entry for ${entry.feature}${entry.level ? `=${entry.level}` : ''}` });
    seenKeys.add(key);
    const known = descriptionByCode.get(entry.code as string);
    if (known !== undefined && known !== entry.description) errors.push({ field: `${at}/code`, message: `${entry.code} is used with two descriptions` });
    descriptionByCode.set(entry.code as string, entry.description as string);

    reasonCodes.push({
      code: entry.code as string,
      feature: entry.feature as string,
      ...(entry.level === undefined ? {} : { level: entry.level as string }),
      description: (entry.description as string).trim(),
      ...(entry.prohibitedBasis === true ? { prohibitedBasis: true } : {}),
    });
  });

  if (errors.length > 0) throw new BadUserInputError(`Invalid reason-code map ${source}.`, errors);
  return { useCase: root.useCase as string, version: root.version as number, reasonCodes };
}
