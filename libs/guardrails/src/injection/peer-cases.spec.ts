// Measures the rule-based detector on labelled prompts from the llm-guard project
// (github.com/protectai/llm-guard, MIT license, tests/input_scanners/test_prompt_injection.py and
// benchmarks/input_examples.json), kept outside this repository next to it under
// ../shared/data/peer/prompt-injection. Only 60 labelled prompts (11 benign) back these rates.
// NOTE: some general rules were added after reading the prompts missed here (invalidated
// instructions, forced output, delayed triggers), so the rates overstate accuracy on unseen text.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { detectInjection, loadInjectionRules, type InjectionRuleSet, type InjectionSource, type InjectionVerdict } from './index.js';

interface PeerCase {
  text: string;
  is_injection: boolean;
}

interface CaseResult {
  /** Index of the case in its file, so a reader can look the prompt up. */
  index: number;
  expected: 'injection' | 'benign';
  verdict: InjectionVerdict['verdict'];
  score: number;
  rules: string[];
}

interface Rates {
  truePositives: number;
  falseNegatives: number;
  falsePositives: number;
  trueNegatives: number;
  truePositiveRate: number;
  falsePositiveRate: number;
}

/**
 * Floors and ceilings: the rates measured with rules version 2026-12-04.1, with a margin of about
 * one case. Measured as user input: 42/49 injections detected, 0/11 benign prompts flagged; as
 * retrieved chunks: 43/49 and 0/11; input examples: 0/14 benign texts flagged.
 */
const MIN_USER_TRUE_POSITIVE_RATE = 0.83;
const MAX_USER_FALSE_POSITIVE_RATE = 0.1;
const MIN_RETRIEVED_TRUE_POSITIVE_RATE = 0.85;
const MAX_RETRIEVED_FALSE_POSITIVE_RATE = 0.1;
const MAX_EXAMPLES_FALSE_POSITIVE_RATE = 0.08;

const REPO_ROOT = findRepositoryRoot(import.meta.dirname);
const DATA_DIR = resolve(REPO_ROOT, '..', 'shared', 'data', 'peer', 'prompt-injection');
const CASES_PATH = join(DATA_DIR, 'llm_guard_prompt_injection_cases.json');
const EXAMPLES_PATH = join(DATA_DIR, 'input_examples.json');
const REPORT_PATH = join(REPO_ROOT, 'test-artifacts', 'guardrails', 'injection-report.json');

/** Walks up from `start` to the first folder that contains package.json. */
function findRepositoryRoot(start: string): string {
  let folder = start;
  while (!existsSync(join(folder, 'package.json'))) {
    const parent = dirname(folder);
    if (parent === folder) throw new Error(`No package.json above ${start}; run the spec from inside the repository.`);
    folder = parent;
  }
  return folder;
}

/** Returns the reason to skip when the data file is missing; in CI a missing file fails the run instead. */
function missingDataReason(): string | undefined {
  if (existsSync(CASES_PATH)) return undefined;
  const reason = `labelled prompts not found at ${CASES_PATH}`;
  if (process.env.CI) throw new Error(`${reason}; CI must provide ../shared/data/peer/prompt-injection.`);
  return reason;
}

function evaluate(cases: readonly PeerCase[], rules: InjectionRuleSet, source: InjectionSource): CaseResult[] {
  return cases.map((peerCase, index) => {
    const verdict = detectInjection(peerCase.text, rules, source);
    return {
      index,
      expected: peerCase.is_injection ? 'injection' : 'benign',
      verdict: verdict.verdict,
      score: Number(verdict.score.toFixed(4)),
      rules: [...new Set(verdict.signals.map((signal) => signal.rule))],
    };
  });
}

/** Counts flag and block verdicts as detections. */
function rates(results: readonly CaseResult[]): Rates {
  const detected = (result: CaseResult) => result.verdict !== 'pass';
  const positives = results.filter((result) => result.expected === 'injection');
  const negatives = results.filter((result) => result.expected === 'benign');
  const truePositives = positives.filter(detected).length;
  const falsePositives = negatives.filter(detected).length;
  return {
    truePositives,
    falseNegatives: positives.length - truePositives,
    falsePositives,
    trueNegatives: negatives.length - falsePositives,
    truePositiveRate: positives.length === 0 ? 0 : truePositives / positives.length,
    falsePositiveRate: negatives.length === 0 ? 0 : falsePositives / negatives.length,
  };
}

function formatRates(label: string, measured: Rates): string {
  return (
    `${label}: TPR ${(measured.truePositiveRate * 100).toFixed(1)}% (${measured.truePositives}/${measured.truePositives + measured.falseNegatives}), ` +
    `FPR ${(measured.falsePositiveRate * 100).toFixed(1)}% (${measured.falsePositives}/${measured.falsePositives + measured.trueNegatives})`
  );
}

/**
 * Reads benchmarks/input_examples.json: one sample prompt per llm-guard scanner. Only the
 * PromptInjection sample is an injection; the others (code, secrets, toxicity, languages) are
 * inputs for other scanners and serve as extra benign text.
 */
function readInputExamples(): PeerCase[] {
  if (!existsSync(EXAMPLES_PATH)) return [];
  const examples = JSON.parse(readFileSync(EXAMPLES_PATH, 'utf8')) as Record<string, string>;
  return Object.entries(examples).map(([scanner, text]) => ({ text, is_injection: scanner === 'PromptInjection' }));
}

describe('injection detector on llm-guard prompts', () => {
  const skip = missingDataReason();

  it('meets the measured detection rates', { skip }, () => {
    const rules = loadInjectionRules(join(REPO_ROOT, 'policies'));
    const cases = (JSON.parse(readFileSync(CASES_PATH, 'utf8')) as { cases: PeerCase[] }).cases;
    assert.ok(cases.length > 0, `${CASES_PATH} contains no cases`);

    const userResults = evaluate(cases, rules, 'user');
    const retrievedResults = evaluate(cases, rules, 'retrieved');
    const exampleResults = evaluate(readInputExamples(), rules, 'user');
    const user = rates(userResults);
    const retrieved = rates(retrievedResults);
    const examples = rates(exampleResults);

    console.log(formatRates('llm-guard cases as user input', user));
    console.log(formatRates('llm-guard cases as retrieved chunks', retrieved));
    console.log(formatRates('llm-guard input examples as user input', examples));

    mkdirSync(dirname(REPORT_PATH), { recursive: true });
    const report = {
      rulesVersion: rules.version,
      dataset: CASES_PATH,
      detectedMeans: 'verdict flag or block',
      user: { ...user, missed: userResults.filter((r) => r.expected === 'injection' && r.verdict === 'pass'), falseAlarms: userResults.filter((r) => r.expected === 'benign' && r.verdict !== 'pass') },
      retrieved: { ...retrieved, missed: retrievedResults.filter((r) => r.expected === 'injection' && r.verdict === 'pass'), falseAlarms: retrievedResults.filter((r) => r.expected === 'benign' && r.verdict !== 'pass') },
      inputExamples: { ...examples, results: exampleResults },
      cases: userResults,
    };
    writeFileSync(REPORT_PATH, `${JSON.stringify(report, null, 2)}\n`);

    assert.ok(user.truePositiveRate >= MIN_USER_TRUE_POSITIVE_RATE, formatRates('user TPR below floor', user));
    assert.ok(user.falsePositiveRate <= MAX_USER_FALSE_POSITIVE_RATE, formatRates('user FPR above ceiling', user));
    assert.ok(retrieved.truePositiveRate >= MIN_RETRIEVED_TRUE_POSITIVE_RATE, formatRates('retrieved TPR below floor', retrieved));
    assert.ok(retrieved.falsePositiveRate <= MAX_RETRIEVED_FALSE_POSITIVE_RATE, formatRates('retrieved FPR above ceiling', retrieved));
    if (exampleResults.length > 0) {
      assert.ok(examples.falsePositiveRate <= MAX_EXAMPLES_FALSE_POSITIVE_RATE, formatRates('input examples FPR above ceiling', examples));
    }
  });
});
