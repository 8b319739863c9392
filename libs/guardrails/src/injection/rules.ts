import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BadUserInputError, NotFoundError, type FieldError } from '../../../common/src/index.js';
import { ENCODINGS, INVISIBLE_KINDS, type Encoding, type InvisibleKind } from './encoded.js';
import { extractRequiredLiterals, LiteralScanner } from './prefilter.js';
import { parseVersionedPolicy } from '../policy-document.js';

/** Origin of a text: typed by the user, or a retrieved document chunk on its way into a prompt. */
export type InjectionSource = 'user' | 'retrieved';
export const INJECTION_SOURCES: readonly InjectionSource[] = ['user', 'retrieved'];

/** Technique families that rules are grouped by; reports and dashboards count signals per category. */
export const INJECTION_CATEGORIES = [
  'instruction-override',
  'role-play-jailbreak',
  'system-prompt-exfiltration',
  'delimiter-injection',
  'encoded-payload',
  'obfuscation',
  'tool-call-hijack',
  'data-exfiltration',
  'indirect-instruction',
  'authority-impersonation',
] as const;
export type InjectionCategory = (typeof INJECTION_CATEGORIES)[number];

/**
 * One way a rule can match:
 * - pattern: a regular expression over the normalized text (lowercase ASCII words, no diacritics,
 *   one space or newline per whitespace run), compiled with the flags g, m and u. `literalIds`
 *   index the literals in InjectionRuleSet.literalScanner of which every match contains one;
 *   without them the pattern always runs;
 * - rawPattern: a regular expression over the original text, for shapes that normalization would erase;
 * - encoded: runs of an encoding that decode to readable text, which is also scanned for injection;
 * - invisible: invisible characters of one kind, when at least minCount occur.
 */
export type InjectionMatcher =
  | { kind: 'pattern'; regex: RegExp; literalIds?: readonly number[] }
  | { kind: 'rawPattern'; regex: RegExp }
  | { kind: 'encoded'; encoding: Encoding; minDecodedLength: number }
  | { kind: 'invisible'; characters: InvisibleKind; minCount: number };

export interface InjectionRule {
  id: string;
  category: InjectionCategory;
  description: string;
  /** Estimated likelihood, from 0 to 1, that a text is an injection attempt when this rule alone matches it. */
  weight: number;
  /** Sources the rule runs on; rules for instructions addressed to the assistant run on retrieved text only. */
  sources: readonly InjectionSource[];
  matchers: InjectionMatcher[];
}

export interface InjectionRuleSet {
  version: string;
  rules: readonly InjectionRule[];
  /** Scores at or above `flag` are flagged, and at or above `block` blocked. */
  thresholds: { flag: number; block: number };
  /**
   * Exponent k applied to every weight of a retrieved chunk, w' = 1 - (1 - w)^k, as if each signal
   * had been seen k times. It is at least 1, so a retrieved chunk never scores lower than user input.
   */
  retrievedWeightFactor: number;
  /** Finds which pattern literals occur in a normalized text, so patterns without any are skipped. */
  literalScanner: LiteralScanner;
}

const RULES_FILE = join('guardrails', 'injection-rules.yaml');
const RULE_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,63}$/;
const MATCHER_KINDS = ['pattern', 'rawPattern', 'encoded', 'invisible'] as const;

/**
 * Reads `<policyDir>/guardrails/injection-rules.yaml` and compiles it. Raises NotFoundError when the
 * file is missing and BadUserInputError, with one field error per problem, when it is invalid.
 */
export function loadInjectionRules(policyDir: string): InjectionRuleSet {
  const path = join(policyDir, RULES_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new NotFoundError(`No injection rules at ${path}: add ${RULES_FILE} to the policy folder.`);
    }
    throw error;
  }
  return parseInjectionRules(text, RULES_FILE);
}

/** Parses, validates and compiles the YAML text of an injection rule set; `source` names it in errors. */
export function parseInjectionRules(text: string, source: string): InjectionRuleSet {
  const errors: FieldError[] = [];
  const { root, version } = parseVersionedPolicy(text, source, errors, '2026-12-04.1');
  const thresholds = parseThresholds(root.thresholds, errors);
  const retrievedWeightFactor = root.retrievedWeightFactor ?? 1;
  if (typeof retrievedWeightFactor !== 'number' || !(retrievedWeightFactor >= 1 && retrievedWeightFactor <= 10)) {
    errors.push({ field: '/retrievedWeightFactor', message: 'must be a number from 1 to 10' });
  }
  if (!Array.isArray(root.rules) || root.rules.length === 0) {
    errors.push({ field: '/rules', message: 'must be a non-empty list' });
    throw new BadUserInputError(`Invalid injection rules ${source}.`, errors);
  }

  const seenIds = new Set<string>();
  const rules = root.rules.flatMap((raw: unknown, index: number) => {
    const rule = parseRule(raw, `/rules/${index}`, errors);
    if (rule === undefined) return [];
    if (seenIds.has(rule.id)) errors.push({ field: `/rules/${index}/id`, message: `repeats rule id ${rule.id}` });
    seenIds.add(rule.id);
    return [rule];
  });

  if (errors.length > 0) throw new BadUserInputError(`Invalid injection rules ${source}.`, errors);
  const literalScanner = indexPatternLiterals(rules);
  return { version, rules, thresholds, retrievedWeightFactor: retrievedWeightFactor as number, literalScanner };
}

/** Derives the required literals of every normalized pattern, numbers them and builds one scanner for all. */
function indexPatternLiterals(rules: InjectionRule[]): LiteralScanner {
  const ids = new Map<string, number>();
  for (const rule of rules) {
    rule.matchers = rule.matchers.map((matcher) => {
      if (matcher.kind !== 'pattern') return matcher;
      const literals = extractRequiredLiterals(matcher.regex.source);
      if (literals === undefined) return matcher;
      const literalIds = literals.map((literal) => {
        if (!ids.has(literal)) ids.set(literal, ids.size);
        return ids.get(literal) as number;
      });
      return { ...matcher, literalIds };
    });
  }
  return new LiteralScanner([...ids.keys()]);
}

function parseThresholds(raw: unknown, errors: FieldError[]): { flag: number; block: number } {
  const thresholds = (raw ?? {}) as Record<string, unknown>;
  const { flag, block } = thresholds;
  if (typeof flag !== 'number' || !(flag > 0 && flag <= 1)) errors.push({ field: '/thresholds/flag', message: 'must be a number above 0 and at most 1' });
  if (typeof block !== 'number' || !(block > 0 && block <= 1)) errors.push({ field: '/thresholds/block', message: 'must be a number above 0 and at most 1' });
  if (typeof flag === 'number' && typeof block === 'number' && block < flag) {
    errors.push({ field: '/thresholds/block', message: 'must be at least the flag threshold' });
  }
  return { flag: flag as number, block: block as number };
}

function parseRule(raw: unknown, at: string, errors: FieldError[]): InjectionRule | undefined {
  const entry = (raw ?? {}) as Record<string, unknown>;
  const before = errors.length;
  if (typeof entry.id !== 'string' || !RULE_ID_PATTERN.test(entry.id)) {
    errors.push({ field: `${at}/id`, message: 'must be lowercase letters, digits and hyphens, such as ignore-prior-instructions' });
  }
  if (!INJECTION_CATEGORIES.includes(entry.category as InjectionCategory)) {
    errors.push({ field: `${at}/category`, message: `must be one of ${INJECTION_CATEGORIES.join(', ')}` });
  }
  if (typeof entry.description !== 'string' || entry.description.trim() === '') {
    errors.push({ field: `${at}/description`, message: 'must say what technique the rule detects' });
  }
  if (typeof entry.weight !== 'number' || !(entry.weight > 0 && entry.weight <= 1)) {
    errors.push({ field: `${at}/weight`, message: 'must be a number above 0 and at most 1' });
  }
  const sources = entry.sources ?? INJECTION_SOURCES;
  if (!Array.isArray(sources) || sources.length === 0 || !sources.every((value) => INJECTION_SOURCES.includes(value as InjectionSource))) {
    errors.push({ field: `${at}/sources`, message: 'must be a non-empty list of user and retrieved' });
  }
  if (!Array.isArray(entry.matchers) || entry.matchers.length === 0) {
    errors.push({ field: `${at}/matchers`, message: 'must be a non-empty list' });
    return undefined;
  }
  const matchers = entry.matchers.map((matcher: unknown, index: number) => parseMatcher(matcher, `${at}/matchers/${index}`, errors));
  if (errors.length > before) return undefined;

  return {
    id: entry.id as string,
    category: entry.category as InjectionCategory,
    description: (entry.description as string).trim(),
    weight: entry.weight as number,
    sources: sources as InjectionSource[],
    matchers: matchers.filter((matcher): matcher is InjectionMatcher => matcher !== undefined),
  };
}

function parseMatcher(raw: unknown, at: string, errors: FieldError[]): InjectionMatcher | undefined {
  const entry = (raw ?? {}) as Record<string, unknown>;
  const kinds = MATCHER_KINDS.filter((kind) => entry[kind] !== undefined);
  if (kinds.length !== 1) {
    errors.push({ field: at, message: `must have exactly one of ${MATCHER_KINDS.join(', ')}` });
    return undefined;
  }

  switch (kinds[0]) {
    case 'pattern':
    case 'rawPattern': {
      const regex = compilePattern(entry[kinds[0]], `${at}/${kinds[0]}`, errors);
      return regex === undefined ? undefined : { kind: kinds[0], regex };
    }
    case 'encoded': {
      if (!ENCODINGS.includes(entry.encoded as Encoding)) {
        errors.push({ field: `${at}/encoded`, message: `must be one of ${ENCODINGS.join(', ')}` });
        return undefined;
      }
      const minDecodedLength = readPositiveInteger(entry.minDecodedLength, `${at}/minDecodedLength`, errors);
      return minDecodedLength === undefined ? undefined : { kind: 'encoded', encoding: entry.encoded as Encoding, minDecodedLength };
    }
    case 'invisible': {
      if (!INVISIBLE_KINDS.includes(entry.invisible as InvisibleKind)) {
        errors.push({ field: `${at}/invisible`, message: `must be one of ${INVISIBLE_KINDS.join(', ')}` });
        return undefined;
      }
      const minCount = readPositiveInteger(entry.minCount, `${at}/minCount`, errors);
      return minCount === undefined ? undefined : { kind: 'invisible', characters: entry.invisible as InvisibleKind, minCount };
    }
  }
}

function compilePattern(raw: unknown, at: string, errors: FieldError[]): RegExp | undefined {
  if (typeof raw !== 'string' || raw === '') {
    errors.push({ field: at, message: 'must be a regular expression' });
    return undefined;
  }
  let regex: RegExp;
  try {
    regex = new RegExp(raw, 'gmu');
  } catch (error) {
    errors.push({ field: at, message: `is not a valid regular expression: ${(error as Error).message}` });
    return undefined;
  }
  // A pattern that matches the empty string would report a signal at every position.
  if (regex.test('')) {
    errors.push({ field: at, message: 'must not match the empty string' });
    return undefined;
  }
  regex.lastIndex = 0;
  return regex;
}

function readPositiveInteger(raw: unknown, at: string, errors: FieldError[]): number | undefined {
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 1) {
    errors.push({ field: at, message: 'must be a positive integer' });
    return undefined;
  }
  return raw;
}
