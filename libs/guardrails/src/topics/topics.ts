import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BadUserInputError, digestJson, type FieldError } from '../../../common/src/index.js';
import { normalizeForMatching, sourceRange } from '../injection/normalize.js';
import { parseVersionedPolicy } from '../policy-document.js';

/**
 * Forbidden topics per use case, declared in policies/guardrails/topics.yaml. A topic is a list of
 * phrases. A phrase matches whole words of the text after the same normalization as the injection
 * rules (case, width, accents, invisible characters, look-alike letters and leetspeak are folded).
 * Whitespace inside a phrase matches any whitespace, and a word ending in `*` matches every word
 * that starts with it ("crypto*" matches "cryptocurrency").
 */

/** Action of a use case on one of its topics: `block` stops the text, `flag` records the verdict and goes on. */
export type TopicAction = 'block' | 'flag';

export interface TopicDefinition {
  id: string;
  description: string;
  phrases: string[];
  /** One global, Unicode-aware regex over the normalized text for all phrases of the topic. */
  regex: RegExp;
}

export interface TopicPolicy {
  version: string;
  /** SHA-256 of the parsed file, recorded with the verdicts so a verdict names the rules it came from. */
  hash: string;
  topics: Map<string, TopicDefinition>;
  /** Topics and actions per use case; the `*` entry applies to use cases without their own entry. */
  useCases: Map<string, Map<string, TopicAction>>;
}

/** One match of a topic phrase, as a range [start, end) of the original text. */
export interface TopicMatch {
  topic: string;
  action: TopicAction;
  start: number;
  end: number;
}

export interface TopicVerdict {
  verdict: 'pass' | 'flag' | 'block';
  /** Topic ids found, sorted; never the matched text. */
  topics: string[];
  matches: TopicMatch[];
}

const TOPICS_FILE = join('guardrails', 'topics.yaml');
const ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,63}$/;
const USE_CASE_KEY = /^(?:\*|[A-Za-z0-9][A-Za-z0-9._-]{0,63})$/;
/** Longest phrase, in characters; output streams hold back 256 characters, so a phrase split across chunks is still found whole. */
const MAX_PHRASE_LENGTH = 120;
const EMPTY_POLICY: TopicPolicy = { version: 'none', hash: digestJson({ topics: {} }), topics: new Map(), useCases: new Map() };

/** Reads `<policyDir>/guardrails/topics.yaml`; without the file no topic is forbidden. Raises BadUserInputError naming each invalid field. */
export function loadTopicPolicy(policyDir: string): TopicPolicy {
  const path = join(policyDir, TOPICS_FILE);
  if (!existsSync(path)) return EMPTY_POLICY;
  return parseTopicPolicy(readFileSync(path, 'utf8'), TOPICS_FILE);
}

/** Parses and compiles the YAML text of a topic policy; `source` names it in errors. */
export function parseTopicPolicy(text: string, source: string): TopicPolicy {
  const errors: FieldError[] = [];
  const { root, version } = parseVersionedPolicy(text, source, errors, '2026-12-05.1');

  const topics = new Map<string, TopicDefinition>();
  for (const [id, raw] of Object.entries(mappingOf(root.topics, '/topics', errors))) {
    const topic = parseTopic(id, raw, `/topics/${id}`, errors);
    if (topic) topics.set(id, topic);
  }

  const useCases = new Map<string, Map<string, TopicAction>>();
  for (const [useCase, raw] of Object.entries(mappingOf(root.useCases ?? {}, '/useCases', errors))) {
    const path = `/useCases/${useCase}`;
    if (!USE_CASE_KEY.test(useCase)) errors.push({ field: path, message: 'must be * or a use case name of letters, digits, dot, underscore or hyphen' });
    const actions = new Map<string, TopicAction>();
    for (const [topic, action] of Object.entries(mappingOf(raw, path, errors))) {
      if (!topics.has(topic)) errors.push({ field: `${path}/${topic}`, message: `names no topic of /topics; declare ${topic} there or remove it` });
      if (action !== 'block' && action !== 'flag') errors.push({ field: `${path}/${topic}`, message: `must be block or flag, got ${JSON.stringify(action)}` });
      else actions.set(topic, action);
    }
    useCases.set(useCase, actions);
  }

  if (errors.length > 0) throw new BadUserInputError(`Invalid topic policy ${source}.`, errors);
  const hash = digestJson({ version, topics: [...topics.values()].map(({ id, phrases }) => ({ id, phrases })), useCases: [...useCases].map(([name, actions]) => [name, [...actions]]) });
  return { version, hash, topics, useCases };
}

/** Topics and actions that apply to `useCase`: its own entry, else the `*` entry, else none. */
export function topicsFor(policy: TopicPolicy, useCase: string): Map<string, TopicAction> {
  return policy.useCases.get(useCase) ?? policy.useCases.get('*') ?? new Map();
}

/** Finds the forbidden topics of `useCase` in `text`. The verdict is block when any found topic blocks, else flag when any is found. */
export function checkTopics(text: string, policy: TopicPolicy, useCase: string): TopicVerdict {
  const actions = topicsFor(policy, useCase);
  if (actions.size === 0 || text.length === 0) return { verdict: 'pass', topics: [], matches: [] };
  const normalized = normalizeForMatching(text);
  const matches: TopicMatch[] = [];
  for (const [id, action] of actions) {
    const regex = policy.topics.get(id)!.regex;
    regex.lastIndex = 0;
    for (let match = regex.exec(normalized.text); match !== null; match = regex.exec(normalized.text)) {
      matches.push({ topic: id, action, ...sourceRange(normalized, match.index, match.index + match[0].length) });
    }
  }
  matches.sort((a, b) => a.start - b.start);
  const topics = [...new Set(matches.map((match) => match.topic))].sort();
  let verdict: TopicVerdict['verdict'] = 'pass';
  if (matches.some((match) => match.action === 'block')) verdict = 'block';
  else if (matches.length > 0) verdict = 'flag';
  return { verdict, topics, matches };
}

function parseTopic(id: string, raw: unknown, path: string, errors: FieldError[]): TopicDefinition | undefined {
  if (!ID_PATTERN.test(id)) errors.push({ field: path, message: 'topic ids are lower-case letters, digits and hyphens, such as investment-advice' });
  const topic = mappingOf(raw, path, errors);
  const phrases = topic.phrases;
  if (!Array.isArray(phrases) || phrases.length === 0) {
    errors.push({ field: `${path}/phrases`, message: 'must be a non-empty list of words or phrases' });
    return undefined;
  }
  const sources: string[] = [];
  phrases.forEach((phrase: unknown, index: number) => {
    const source = phraseSource(phrase);
    if (typeof source === 'string') sources.push(source);
    else errors.push({ field: `${path}/phrases/${index}`, message: source.problem });
  });
  if (sources.length !== phrases.length) return undefined;
  // Letters and digits on either side would make the phrase part of a longer word.
  const regex = new RegExp(`(?<![\\p{L}\\p{N}])(?:${sources.join('|')})(?![\\p{L}\\p{N}])`, 'gu');
  return { id, description: String(topic.description ?? ''), phrases: phrases as string[], regex };
}

/** Compiles one phrase to a regex source over normalized text, or returns the problem with it. */
function phraseSource(phrase: unknown): string | { problem: string } {
  if (typeof phrase !== 'string' || phrase.trim().length === 0) return { problem: 'must be a non-empty string' };
  if (phrase.length > MAX_PHRASE_LENGTH) return { problem: `must be at most ${MAX_PHRASE_LENGTH} characters` };
  const words = phrase.trim().split(/\s+/);
  const parts: string[] = [];
  for (const word of words) {
    const wildcard = word.endsWith('*');
    const stem = wildcard ? word.slice(0, -1) : word;
    if (stem.length === 0 || stem.includes('*')) return { problem: `"${phrase}": * is allowed only at the end of a word of at least one character` };
    // The phrase is normalized like the text, so "Crypto" and "crypto" or "é" and "e" compare equal.
    const normalized = normalizeForMatching(stem).text;
    const escaped = normalized.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&').replace(/ /g, '[ \\n]');
    parts.push(wildcard ? `${escaped}[\\p{L}\\p{N}]*` : escaped);
  }
  return parts.join('[ \\n]');
}

function mappingOf(value: unknown, path: string, errors: FieldError[]): Record<string, unknown> {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  errors.push({ field: path, message: 'must be a mapping' });
  return {};
}
