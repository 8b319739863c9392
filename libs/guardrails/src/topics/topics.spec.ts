import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { BadUserInputError } from '../../../common/src/index.js';
import { checkTopics, loadTopicPolicy, parseTopicPolicy } from './topics.js';

const POLICY_DIR = resolve(import.meta.dirname, '..', '..', '..', '..', '..', 'policies');

const policy = parseTopicPolicy(
  `
version: test
topics:
  investment-advice:
    phrases: [which stock* should i buy, guaranteed return*]
  crypto:
    phrases: [crypto*]
useCases:
  advice-free:
    investment-advice: block
    crypto: flag
  '*':
    crypto: flag
`,
  'inline',
);

describe('checkTopics', () => {
  it('blocks a phrase of a blocking topic', () => {
    const verdict = checkTopics('Which stocks should I buy this year?', policy, 'advice-free');
    assert.equal(verdict.verdict, 'block');
    assert.deepEqual(verdict.topics, ['investment-advice']);
  });

  it('points matches into the original text', () => {
    const text = 'Tell me: WHICH  STOCK should\u200B I buy?';
    const [match] = checkTopics(text, policy, 'advice-free').matches;
    assert.equal(text.slice(match.start, match.end), 'WHICH  STOCK should\u200B I buy');
  });

  it('folds accents, width and leetspeak', () => {
    for (const text of ['Ｇｕａｒａｎｔｅｅｄ returns!', 'guarantééd return', 'gu4r4nt33d returns']) {
      assert.deepEqual(checkTopics(text, policy, 'advice-free').topics, ['investment-advice'], text);
    }
  });

  it('respects word boundaries', () => {
    assert.equal(checkTopics('Our unguaranteed returns policy', policy, 'advice-free').verdict, 'pass');
    assert.equal(checkTopics('The cryptographic module is FIPS 140-3 validated', policy, 'advice-free').verdict, 'flag', 'crypto* is a prefix');
    assert.equal(checkTopics('encrypto', policy, 'advice-free').verdict, 'pass', 'a prefix match must start a word');
  });

  it('flags without blocking', () => {
    const verdict = checkTopics('Is crypto regulated?', policy, 'advice-free');
    assert.equal(verdict.verdict, 'flag');
    assert.deepEqual(verdict.topics, ['crypto']);
  });

  it('applies the * entry to other use cases', () => {
    assert.equal(checkTopics('Which stock should I buy? crypto?', policy, 'other').verdict, 'flag');
    assert.deepEqual(checkTopics('Which stock should I buy? crypto?', policy, 'other').topics, ['crypto']);
  });

  it('passes text without topics', () => {
    assert.deepEqual(checkTopics('What is the overdraft fee?', policy, 'advice-free'), { verdict: 'pass', topics: [], matches: [] });
  });
});

describe('parseTopicPolicy', () => {
  function problems(text: string): string[] {
    try {
      parseTopicPolicy(text, 'inline');
    } catch (error) {
      assert.ok(error instanceof BadUserInputError);
      return (error.fieldErrors ?? []).map((item) => `${item.field}: ${item.message}`);
    }
    return assert.fail('expected BadUserInputError');
  }

  it('names an unknown topic', () => {
    const found = problems('version: 1\ntopics:\n  a: { phrases: [x] }\nuseCases:\n  u: { b: block }\n');
    assert.ok(found.some((line) => line.startsWith('/useCases/u/b: names no topic')), found.join('; '));
  });

  it('names a bad action', () => {
    const found = problems('version: 1\ntopics:\n  a: { phrases: [x] }\nuseCases:\n  u: { a: warn }\n');
    assert.ok(found.includes('/useCases/u/a: must be block or flag, got "warn"'), found.join('; '));
  });

  it('rejects a wildcard inside a word', () => {
    const found = problems('version: 1\ntopics:\n  a: { phrases: ["cr*pto"] }\n');
    assert.ok(found.some((line) => line.startsWith('/topics/a/phrases/0:')), found.join('; '));
  });

  it('rejects empty phrases and a missing version', () => {
    const found = problems('topics:\n  a: { phrases: [] }\n');
    assert.ok(found.includes('/version: must be a version string such as "2026-12-05.1"'), found.join('; '));
    assert.ok(found.includes('/topics/a/phrases: must be a non-empty list of words or phrases'), found.join('; '));
  });
});

describe('shipped topic policy', () => {
  const shipped = loadTopicPolicy(POLICY_DIR);

  it('blocks investment advice in regulatory-qa', () => {
    assert.equal(checkTopics('Which stock should I buy with my bonus?', shipped, 'regulatory-qa').verdict, 'block');
  });

  it('passes regulatory questions', () => {
    assert.equal(checkTopics('What must an adverse action notice under Regulation B include?', shipped, 'regulatory-qa').verdict, 'pass');
  });
});
