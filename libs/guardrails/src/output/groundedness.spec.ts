import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkGroundedness, numberWordsToDigits, splitSentences } from './groundedness.js';

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

describe('numberWordsToDigits', () => {
  it('rewrites number words as digits', () => {
    assert.equal(numberWordsToDigits('kept for twenty-five months'), 'kept for 25 months');
    assert.equal(numberWordsToDigits('one hundred twenty days and two thousand cases'), '120 days and 2000 cases');
    assert.equal(numberWordsToDigits('None of them and one more'), 'None of them and 1 more');
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
    assert.deepEqual(report.sentences[0].missingNumbers, ['12 month']);
    assert.equal(report.score, 0);
    assert.equal(report.unsupportedClaims, 1);
  });

  it('catches invented figures in other forms', () => {
    const forms = [
      'A creditor shall retain records for ninety-nine months after notifying an applicant [2].',
      'A creditor shall retain records for 25 years after notifying an applicant [2].',
      'A creditor shall retain records for 2,5 months after notifying an applicant [2].',
      'A creditor shall retain records for 25% months after notifying an applicant [2].',
      'A creditor shall retain records costing $25 after notifying an applicant of action taken [2].',
    ];
    for (const answer of forms) {
      const report = checkGroundedness(answer, [NOTICE, RETENTION]);
      assert.equal(report.sentences[0].supported, false, answer);
      assert.equal(report.unsupportedClaims, 1, answer);
    }
  });

  it('accepts a figure written in words that the passage states in digits', () => {
    const report = checkGroundedness('A creditor shall retain records for twenty-five months after notifying an applicant [2].', [NOTICE, RETENTION]);
    assert.equal(report.score, 1);
  });

  it('rejects a negation the passage does not state', () => {
    const report = checkGroundedness('A creditor shall never retain records for 25 months after notifying an applicant [2].', [NOTICE, RETENTION]);
    assert.deepEqual(report.sentences[0].missingNegations, ['never']);
    assert.equal(report.unsupportedClaims, 1);
  });

  it('counts an invented minority sentence as an unsupported claim', () => {
    const answer =
      'A creditor must provide a statement of specific reasons for the action taken [1]. ' +
      'A creditor shall retain records for 25 months after notifying an applicant [2]. ' +
      'Statements based on internal standards are insufficient [1]. ' +
      'Records may be destroyed after 3 days [2].';
    const report = checkGroundedness(answer, [NOTICE, RETENTION]);
    assert.equal(report.score, 0.75);
    assert.equal(report.unsupportedClaims, 1);
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
