import { BadUserInputError, createSeededRandom } from '../../common/src/index.js';
import type { DatasetRecord } from './record-validation.js';

/**
 * Synthetic applications in the German Credit layout, for the demo and for tests on machines
 * without the real file. Categorical codes and banded numbers are drawn with the frequencies of
 * the 1,000 rows of the Statlog german.data file. Duration is drawn from the file's observed
 * values, amount is log-normal and grows with duration, and age is log-normal from 19 to 75.
 * Fields are drawn independently except amount, which depends on duration.
 *
 * The label follows a fixed logistic model, so a model trained on these rows can learn it:
 *
 *   logit P(bad) = INTERCEPT
 *                + CHECKING[checking_status] + HISTORY[credit_history]
 *                + SAVINGS[savings_status] + PURPOSE[purpose]
 *                + 0.03 * (duration_months - 21)
 *                + 0.35 * ln(credit_amount / 2500)
 *                - 0.02 * (age_years - 35)
 *
 * with the weights below. INTERCEPT was set so that about 30% of rows are bad, as in the real file.
 */
export interface SyntheticGermanCreditOptions {
  rows: number;
  seed: number;
  /** Prefix of `application_id`; keys are the prefix and a 6-digit row number (default `SYN-`). */
  keyPrefix?: string;
}

export const SYNTHETIC_LABEL_MODEL = {
  intercept: -1.35,
  checking: { A11: 1.1, A12: 0.6, A13: 0, A14: -0.9 } as Record<string, number>,
  history: { A30: 1.0, A31: 0.9, A32: 0, A33: 0.3, A34: -0.7 } as Record<string, number>,
  savings: { A61: 0.5, A62: 0.3, A63: 0, A64: -0.4, A65: -0.3 } as Record<string, number>,
  purpose: { A40: 0.3, A41: -0.6, A43: -0.2, A46: 0.5 } as Record<string, number>,
  perDurationMonth: 0.03,
  perLogAmount: 0.35,
  perAgeYear: -0.02,
} as const;

/** Code frequencies (counts among the 1,000 rows of german.data) per field. */
const CODE_COUNTS: Record<string, Record<string, number>> = {
  checking_status: { A11: 274, A12: 269, A13: 63, A14: 394 },
  credit_history: { A30: 40, A31: 49, A32: 530, A33: 88, A34: 293 },
  purpose: { A40: 234, A41: 103, A42: 181, A43: 280, A44: 12, A45: 22, A46: 50, A48: 9, A49: 97, A410: 12 },
  savings_status: { A61: 603, A62: 103, A63: 63, A64: 48, A65: 183 },
  employment_since: { A71: 62, A72: 172, A73: 339, A74: 174, A75: 253 },
  personal_status_sex: { A91: 50, A92: 310, A93: 548, A94: 92 },
  other_debtors: { A101: 907, A102: 41, A103: 52 },
  property: { A121: 282, A122: 232, A123: 332, A124: 154 },
  other_installment_plans: { A141: 139, A142: 47, A143: 814 },
  housing: { A151: 179, A152: 713, A153: 108 },
  job: { A171: 22, A172: 200, A173: 630, A174: 148 },
  telephone: { A191: 596, A192: 404 },
  foreign_worker: { A201: 963, A202: 37 },
};

/** Banded numeric fields: value → count among the 1,000 rows of german.data. */
const BAND_COUNTS: Record<string, Record<string, number>> = {
  installment_rate_pct: { 1: 136, 2: 231, 3: 157, 4: 476 },
  residence_since: { 1: 130, 2: 308, 3: 149, 4: 413 },
  existing_credits: { 1: 633, 2: 333, 3: 28, 4: 6 },
  num_dependents: { 1: 845, 2: 155 },
};

/** Duration in months → count among the 1,000 rows of german.data. */
const DURATION_COUNTS: Record<string, number> = {
  4: 6, 5: 1, 6: 75, 7: 5, 8: 7, 9: 49, 10: 28, 11: 9, 12: 179, 13: 4, 14: 4, 15: 64, 16: 2, 18: 113,
  20: 8, 21: 30, 22: 2, 24: 184, 26: 1, 27: 13, 28: 3, 30: 40, 33: 3, 36: 83, 39: 5, 40: 1, 42: 11,
  45: 5, 47: 1, 48: 48, 54: 2, 60: 13, 72: 1,
};

const MAX_ROWS = 1_000_000;

/**
 * Generates `rows` synthetic German Credit records. The same `seed` always yields the same rows,
 * on every machine, because every draw comes from one seeded generator in a fixed order.
 */
export function generateGermanCredit(options: SyntheticGermanCreditOptions): DatasetRecord[] {
  const { rows, seed, keyPrefix = 'SYN-' } = options;
  if (!Number.isInteger(rows) || rows < 1 || rows > MAX_ROWS) {
    throw new BadUserInputError('Invalid synthetic row count.', [
      { field: 'rows', message: `rows must be an integer from 1 to ${MAX_ROWS}, but got ${rows}` },
    ]);
  }
  if (!Number.isInteger(seed)) {
    throw new BadUserInputError('Invalid synthetic seed.', [{ field: 'seed', message: `seed must be an integer, but got ${seed}` }]);
  }

  const random = createSeededRandom(seed);
  const records: DatasetRecord[] = [];
  for (let index = 1; index <= rows; index++) {
    records.push(generateOne(random, `${keyPrefix}${String(index).padStart(6, '0')}`));
  }
  return records;
}

function generateOne(random: () => number, applicationId: string): DatasetRecord {
  const pick = (counts: Record<string, number>) => pickWeighted(random, counts);
  const durationMonths = Number(pick(DURATION_COUNTS));
  const creditAmount = drawAmount(random, durationMonths);
  const ageYears = drawAge(random);

  const record: DatasetRecord = {
    application_id: applicationId,
    checking_status: pick(CODE_COUNTS.checking_status),
    duration_months: durationMonths,
    credit_history: pick(CODE_COUNTS.credit_history),
    purpose: pick(CODE_COUNTS.purpose),
    credit_amount: creditAmount,
    savings_status: pick(CODE_COUNTS.savings_status),
    employment_since: pick(CODE_COUNTS.employment_since),
    installment_rate_pct: Number(pick(BAND_COUNTS.installment_rate_pct)),
    personal_status_sex: pick(CODE_COUNTS.personal_status_sex),
    other_debtors: pick(CODE_COUNTS.other_debtors),
    residence_since: Number(pick(BAND_COUNTS.residence_since)),
    property: pick(CODE_COUNTS.property),
    age_years: ageYears,
    other_installment_plans: pick(CODE_COUNTS.other_installment_plans),
    housing: pick(CODE_COUNTS.housing),
    existing_credits: Number(pick(BAND_COUNTS.existing_credits)),
    job: pick(CODE_COUNTS.job),
    num_dependents: Number(pick(BAND_COUNTS.num_dependents)),
    telephone: pick(CODE_COUNTS.telephone),
    foreign_worker: pick(CODE_COUNTS.foreign_worker),
  };

  const probabilityBad = 1 / (1 + Math.exp(-syntheticLogitBad(record)));
  record.credit_risk = random() < probabilityBad ? 2 : 1;
  return record;
}

/** Returns the log-odds of a bad label under the generator's documented model. */
export function syntheticLogitBad(record: DatasetRecord): number {
  const model = SYNTHETIC_LABEL_MODEL;
  return (
    model.intercept +
    (model.checking[record.checking_status as string] ?? 0) +
    (model.history[record.credit_history as string] ?? 0) +
    (model.savings[record.savings_status as string] ?? 0) +
    (model.purpose[record.purpose as string] ?? 0) +
    model.perDurationMonth * ((record.duration_months as number) - 21) +
    model.perLogAmount * Math.log((record.credit_amount as number) / 2500) +
    model.perAgeYear * ((record.age_years as number) - 35)
  );
}

function pickWeighted(random: () => number, counts: Record<string, number>): string {
  const entries = Object.entries(counts);
  const total = entries.reduce((sum, [, count]) => sum + count, 0);
  let target = random() * total;
  for (const [value, count] of entries) {
    target -= count;
    if (target < 0) return value;
  }
  return entries[entries.length - 1][0];
}

/** Standard normal draw (Box-Muller); `1 - random()` keeps the logarithm finite. */
function normal(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** Whole Deutsche Mark, median about 2,300 at 18 months, clamped to the real file's 250 to 18,424. */
function drawAmount(random: () => number, durationMonths: number): number {
  const logAmount = Math.log(2300) + 0.8 * Math.log(durationMonths / 18) + 0.65 * normal(random);
  return Math.min(18424, Math.max(250, Math.round(Math.exp(logAmount))));
}

/** Median 33 and 10th to 90th percentile about 23 to 52, as in the real file, clamped to 19 to 75. */
function drawAge(random: () => number): number {
  const age = Math.exp(Math.log(33) + 0.3 * normal(random));
  return Math.min(75, Math.max(19, Math.round(age)));
}
