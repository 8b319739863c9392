import { findEncodedPayloads, findInvisibleCharacters, type EncodedPayload } from './encoded.js';
import { normalizeForMatching, sourceRange, type NormalizedText } from './normalize.js';
import type { InjectionRule, InjectionRuleSet, InjectionSource } from './rules.js';

/** One rule match, with the range of the original text it covers. */
export interface InjectionSignal {
  rule: string;
  category: string;
  start: number;
  end: number;
  /** The rule weight after the source adjustment, from 0 to 1. */
  weight: number;
}

export interface InjectionVerdict {
  /** Combined likelihood of injection, from 0 to 1. */
  score: number;
  verdict: 'pass' | 'flag' | 'block';
  /** Every signal found, ordered by position; a rule reports at most MAX_SIGNALS_PER_RULE of them. */
  signals: InjectionSignal[];
}

/** Caps the signals per rule, so a long document with the same phrase on every line yields a short verdict. */
export const MAX_SIGNALS_PER_RULE = 16;

/** Decoded payloads longer than this are scanned only up to it. */
const MAX_DECODED_SCAN_LENGTH = 65_536;

/**
 * Scans `text` with every rule that applies to `source` and combines the signals into a verdict.
 *
 * Score: each rule r that matched contributes its weight w once, however often it matched. For a
 * retrieved chunk the weight becomes w' = 1 - (1 - w)^k, with k = retrievedWeightFactor, as if the
 * signal had been seen k times. The rules are then combined as independent evidence (noisy-OR):
 *   score = 1 - Π_r (1 - w'_r)
 * so one strong rule can reach the block threshold alone, several weak ones add up, and the score
 * never exceeds 1. Text hidden in an encoded payload is decoded and scanned once more; its
 * signals point at the whole payload and count like any other signal.
 */
export function detectInjection(text: string, rules: InjectionRuleSet, source: InjectionSource = 'user'): InjectionVerdict {
  const factor = source === 'retrieved' ? rules.retrievedWeightFactor : 1;
  const signals = capSignalsPerRule(collectSignals(text, rules, source, factor, true));

  const score = combineWeights(signals);
  return { score, verdict: verdictFor(score, rules.thresholds), signals };
}

function collectSignals(text: string, rules: InjectionRuleSet, source: InjectionSource, factor: number, scanPayloads: boolean): InjectionSignal[] {
  const normalized = normalizeForMatching(text);
  const literalsPresent = rules.literalScanner.scan(normalized.text);
  const signals: InjectionSignal[] = [];
  const payloads: EncodedPayload[] = [];

  for (const rule of rules.rules) {
    if (!rule.sources.includes(source)) continue;
    const weight = adjustWeight(rule.weight, factor);
    const spans = uniqueSpans(matchRule(rule, { text, normalized, literalsPresent }, scanPayloads, payloads));
    for (const span of spans.slice(0, MAX_SIGNALS_PER_RULE)) {
      signals.push({ rule: rule.id, category: rule.category, start: span.start, end: span.end, weight });
    }
  }

  // Payloads are scanned after the rule loop, so the scan never shares a running regex with it.
  for (const payload of payloads) {
    const decoded = payload.decoded.slice(0, MAX_DECODED_SCAN_LENGTH);
    for (const inner of collectSignals(decoded, rules, source, factor, false)) {
      signals.push({ ...inner, start: payload.start, end: payload.end });
    }
  }
  return signals;
}

/** One text prepared for matching: the original, its normalized form and which pattern literals occur in it. */
interface ScanInput {
  text: string;
  normalized: NormalizedText;
  literalsPresent: Uint8Array;
}

/** Returns the original-text spans where `rule` matches; decoded payloads are appended to `payloads`. */
function matchRule(rule: InjectionRule, input: ScanInput, scanPayloads: boolean, payloads: EncodedPayload[]): Array<{ start: number; end: number }> {
  const { text, normalized, literalsPresent } = input;
  const spans: Array<{ start: number; end: number }> = [];
  for (const matcher of rule.matchers) {
    switch (matcher.kind) {
      case 'pattern':
        // Every match contains one of the pattern's literals, so without any the pattern cannot match.
        if (matcher.literalIds !== undefined && !matcher.literalIds.some((id) => literalsPresent[id] === 1)) break;
        for (const [start, end] of regexMatches(matcher.regex, normalized.text)) spans.push(sourceRange(normalized, start, end));
        break;
      case 'rawPattern':
        for (const [start, end] of regexMatches(matcher.regex, text)) spans.push({ start, end });
        break;
      case 'encoded': {
        if (!scanPayloads) break;
        const found = findEncodedPayloads(text, matcher.encoding, matcher.minDecodedLength);
        payloads.push(...found);
        spans.push(...found.map(({ start, end }) => ({ start, end })));
        break;
      }
      case 'invisible':
        spans.push(...findInvisibleCharacters(text, matcher.characters, matcher.minCount));
        break;
    }
    if (spans.length >= MAX_SIGNALS_PER_RULE) break;
  }
  return spans;
}

/** Orders signals by position and keeps the first MAX_SIGNALS_PER_RULE of each rule, including those from decoded payloads. */
function capSignalsPerRule(signals: InjectionSignal[]): InjectionSignal[] {
  signals.sort((a, b) => a.start - b.start || a.end - b.end || a.rule.localeCompare(b.rule));
  const counts = new Map<string, number>();
  return signals.filter((signal) => {
    const count = (counts.get(signal.rule) ?? 0) + 1;
    counts.set(signal.rule, count);
    return count <= MAX_SIGNALS_PER_RULE;
  });
}

/** Drops spans that another matcher of the same rule already reported. */
function uniqueSpans(spans: Array<{ start: number; end: number }>): Array<{ start: number; end: number }> {
  const seen = new Set<string>();
  return spans.filter(({ start, end }) => {
    const key = `${start}:${end}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Yields [start, end) of each match of a global regex, stopping at MAX_SIGNALS_PER_RULE matches. */
function* regexMatches(regex: RegExp, text: string): Generator<[number, number]> {
  regex.lastIndex = 0;
  let found = 0;
  for (let match = regex.exec(text); match !== null && found < MAX_SIGNALS_PER_RULE; match = regex.exec(text)) {
    if (match[0].length === 0) {
      regex.lastIndex += 1;
      continue;
    }
    found += 1;
    yield [match.index, match.index + match[0].length];
  }
  regex.lastIndex = 0;
}

function adjustWeight(weight: number, factor: number): number {
  return factor === 1 ? weight : 1 - Math.pow(1 - weight, factor);
}

/** Noisy-OR over the strongest signal of each rule; see detectInjection. */
function combineWeights(signals: readonly InjectionSignal[]): number {
  const strongest = new Map<string, number>();
  for (const signal of signals) strongest.set(signal.rule, Math.max(strongest.get(signal.rule) ?? 0, signal.weight));
  let miss = 1;
  for (const weight of strongest.values()) miss *= 1 - weight;
  return 1 - miss;
}

function verdictFor(score: number, thresholds: InjectionRuleSet['thresholds']): InjectionVerdict['verdict'] {
  if (score >= thresholds.block) return 'block';
  if (score >= thresholds.flag) return 'flag';
  return 'pass';
}
