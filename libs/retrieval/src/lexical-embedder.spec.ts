import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LexicalEmbedder, tokenize } from './lexical-embedder.js';

function cosine(a: number[], b: number[]): number {
  return a.reduce((sum, value, index) => sum + value * b[index], 0);
}

describe('LexicalEmbedder', () => {
  const embedder = new LexicalEmbedder(512);

  it('returns unit vectors of the configured dimension', async () => {
    const [vector] = await embedder.embed(['Statement of specific reasons for adverse action']);
    assert.equal(vector.length, 512);
    assert.ok(Math.abs(Math.hypot(...vector) - 1) < 1e-12, `norm ${Math.hypot(...vector)}`);
  });

  it('is deterministic across instances', () => {
    const text = 'The right to erasure of personal data';
    assert.deepEqual(new LexicalEmbedder(512).embedOne(text), new LexicalEmbedder(512).embedOne(text));
  });

  it('pins known values', () => {
    // Guards against an accidental change of hashing or weighting, which would make stored
    // vectors incomparable with new ones without any error.
    const vector = embedder.embedOne('adverse action notice');
    assert.equal(vector.filter((value) => value !== 0).length, 51);
    assert.equal(vector[102].toFixed(12), '-0.322496759932');
    assert.equal(vector[1].toFixed(12), '0.225747731952');
  });

  it('ranks shared vocabulary above unrelated text', () => {
    const query = embedder.embedOne('notification of adverse action to the applicant');
    const related = embedder.embedOne('A creditor shall notify an applicant of adverse action within 30 days.');
    const unrelated = embedder.embedOne('Operational resilience testing of ICT systems for financial entities.');
    assert.ok(cosine(query, related) > cosine(query, unrelated) + 0.1, `${cosine(query, related)} vs ${cosine(query, unrelated)}`);
  });

  it('matches inflections through character n-grams', () => {
    const plural = embedder.embedOne('notifications');
    const singular = embedder.embedOne('notification');
    const other = embedder.embedOne('collateral');
    assert.ok(cosine(plural, singular) > 0.5, `similarity ${cosine(plural, singular)}`);
    assert.ok(cosine(plural, other) < 0.3, `similarity ${cosine(plural, other)}`);
  });

  it('weights repeated words sublinearly', () => {
    const once = embedder.embedOne('credit risk');
    const often = embedder.embedOne('credit credit credit credit credit credit credit credit credit credit risk');
    // With raw counts the repeated word would dominate (cosine to "risk" below 0.1); 1 + ln(tf) keeps "risk" visible.
    const risk = embedder.embedOne('risk');
    assert.ok(cosine(often, risk) > 0.2, `similarity ${cosine(often, risk)}`);
    assert.ok(cosine(once, risk) > cosine(often, risk));
  });

  it('embeds text without words as a zero vector', () => {
    assert.ok(embedder.embedOne('the of and ...').every((value) => value === 0));
  });

  it('rejects an unusable dimension', () => {
    assert.throws(() => new LexicalEmbedder(8), RangeError);
    assert.throws(() => new LexicalEmbedder(512.5), RangeError);
  });

  it('tokenizes section numbers as one word', () => {
    assert.deepEqual(tokenize('See 12 CFR 1002.9(b)(2), e-mail'), ['see', '12', 'cfr', '1002.9', 'b', '2', 'e-mail']);
  });
});
