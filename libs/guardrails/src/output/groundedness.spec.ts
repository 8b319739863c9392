import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkGroundedness, splitSentences } from './groundedness.js';

const NOTICE =
  'A creditor must provide a statement of specific reasons for the action taken within 30 days. ' +
  'Statements that the adverse action was based on internal standards are insufficient.';
const RETENTION = 'A creditor shall retain records for 25 months after the date it notifies an applicant of action taken.';

describe('splitSentences', () => {
  it('splits at sentence ends and line breaks and drops list bullets', () => {
    assert.deepEqual(splitSentences('First point here. Second one [1].\n- Third item\n2. Fourth item'), [
      'First point here.',
      'Second one [1].',
      'Third item',
      'Fourth item',
    ]);
  });

  it('keeps section numbers such as 1002.9 inside one sentence', () => {
    assert.deepEqual(splitSentences('See 12 CFR 1002.9 for notices. It applies to creditors.'), ['See 12 CFR 1002.9 for notices.', 'It applies to creditors.']);
  });
});

describe('checkGroundedness', () => {
  it('supports sentences that restate a cited passage', () => {
    const report = checkGroundedness('The creditor must provide a statement of specific reasons within 30 days [1].', [NOTICE, RETENTION]);
    assert.equal(report.score, 1);
    assert.equal(report.sentences[0].passage, 0);
    assert.equal(report.sentences[0].supported, true);
  });

  it('rejects a sentence whose figure differs from the passage', () => {
    const report = checkGroundedness('A creditor shall retain records for 12 months after notifying an applicant [2].', [NOTICE, RETENTION]);
    assert.equal(report.sentences[0].supported, false);
    assert.deepEqual(report.sentences[0].missingNumbers, ['12']);
    assert.equal(report.score, 0);
  });

  it('only lets a sentence rest on the passages its markers name', () => {
    const sentence = 'A creditor shall retain records for 25 months after notifying an applicant';
    assert.equal(checkGroundedness(`${sentence} [2].`, [NOTICE, RETENTION]).score, 1);
    assert.equal(checkGroundedness(`${sentence} [1].`, [NOTICE, RETENTION]).score, 0);
  });

  it('scores invented content as unsupported and averages over judged sentences', () => {
    const answer =
      'A creditor must provide a statement of specific reasons for the action taken [1]. ' +
      'Applicants may also appeal to the central bank ombudsman free of charge. Yes.';
    const report = checkGroundedness(answer, [NOTICE, RETENTION]);
    assert.equal(report.sentences.length, 3);
    assert.equal(report.sentences[2].skipped, true);
    assert.equal(report.score, 0.5);
  });

  it('gives 0 when nothing can be judged or nothing is cited', () => {
    assert.equal(checkGroundedness('Yes.', [NOTICE]).score, 0);
    assert.equal(checkGroundedness('A creditor must provide specific reasons.', []).score, 0);
  });

  it('ignores out-of-range markers and falls back to every passage', () => {
    const report = checkGroundedness('Statements based on internal standards are insufficient [9].', [NOTICE]);
    assert.equal(report.score, 1);
  });
});
