import { BadUserInputError, createSeededRandom } from '../../common/src/index.js';
import type { DatasetRecord } from './record-validation.js';

/**
 * Synthetic mobile-money transactions in the PaySim layout (the paysim-transactions dataset),
 * for the demo. It follows the pattern of the PaySim simulator's fraud, not its exact
 * frequencies: a fraudster takes over a customer account, transfers the whole balance to a mule
 * account, and the mule cashes it out. Legitimate payments leave part of the balance, and mules
 * receive from many victims, so both the payment and the payee's recent activity carry signal.
 * The same seed always yields the same rows.
 */
export interface SyntheticPaysimOptions {
  rows: number;
  seed: number;
  /** Hours the transactions spread over, from step 1 (default 72). */
  hours?: number;
  /** Share of takeover attacks among the generated events (default 0.015; each attack writes 2 rows). */
  fraudRate?: number;
}

const MAX_ROWS = 1_000_000;
/** Step 1 is the first hour after this time, as the paysim-transactions dataset defines it. */
const EPOCH_MS = Date.parse('2026-01-01T00:00:00Z');
const HOUR_MS = 3_600_000;

const LEGITIMATE_TYPES: [string, number][] = [
  ['CASH_IN', 0.22],
  ['CASH_OUT', 0.35],
  ['PAYMENT', 0.34],
  ['TRANSFER', 0.08],
  ['DEBIT', 0.01],
];

/** Generates `rows` transactions, sorted by step. */
export function generatePaysim(options: SyntheticPaysimOptions): DatasetRecord[] {
  const { rows, seed, hours = 72, fraudRate = 0.015 } = options;
  if (!Number.isInteger(rows) || rows < 2 || rows > MAX_ROWS) {
    throw new BadUserInputError('Invalid synthetic row count.', [{ field: 'rows', message: `rows must be an integer from 2 to ${MAX_ROWS}, but got ${rows}` }]);
  }
  if (!Number.isInteger(seed)) throw new BadUserInputError('Invalid synthetic seed.', [{ field: 'seed', message: `seed must be an integer, but got ${seed}` }]);
  if (!(fraudRate >= 0 && fraudRate <= 0.5)) throw new BadUserInputError('Invalid fraud rate.', [{ field: 'fraudRate', message: 'must be from 0 to 0.5' }]);

  const random = createSeededRandom(seed);
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)];
  const logNormal = (median: number, sigma: number) => median * Math.exp(sigma * gaussian(random));
  const money = (value: number) => Math.round(value * 100) / 100;
  const customers = Array.from({ length: Math.max(50, Math.floor(rows / 2)) }, (_, index) => `C${100000000 + index * 7919}`);
  const merchants = Array.from({ length: Math.max(20, Math.floor(rows / 20)) }, (_, index) => `M${200000000 + index * 104729}`);
  const mules = Array.from({ length: Math.max(3, Math.floor(rows / 400)) }, (_, index) => `C${900000000 + index * 15485863}`);

  const records: DatasetRecord[] = [];
  const push = (step: number, type: string, amount: number, orig: string, oldOrig: number, dest: string, oldDest: number, fraud: number) => {
    const outgoing = type !== 'CASH_IN';
    records.push({
      event_key: `SYN-PS-${String(records.length + 1).padStart(7, '0')}`,
      event_time: new Date(EPOCH_MS + step * HOUR_MS).toISOString(),
      step,
      type,
      amount: money(amount),
      name_orig: orig,
      old_balance_orig: money(oldOrig),
      new_balance_orig: money(outgoing ? Math.max(oldOrig - amount, 0) : oldOrig + amount),
      name_dest: dest,
      old_balance_dest: money(oldDest),
      new_balance_dest: money(dest.startsWith('M') ? 0 : oldDest + amount),
      is_fraud: fraud,
      is_flagged_fraud: 0,
    });
  };

  while (records.length < rows) {
    const step = 1 + Math.floor(random() * hours);
    if (random() < fraudRate && records.length + 2 <= rows) {
      // Takeover: the whole balance goes to a mule, who cashes it out in the same hour.
      const balance = Math.min(logNormal(150_000, 1.2), 10_000_000);
      const mule = pick(mules);
      push(step, 'TRANSFER', balance, pick(customers), balance, mule, 0, 1);
      push(step, 'CASH_OUT', balance, mule, balance, pick(merchants), logNormal(50_000, 1), 1);
      continue;
    }
    const type = pickWeighted(random, LEGITIMATE_TYPES);
    const oldBalance = random() < 0.3 ? 0 : logNormal(60_000, 1.5);
    const amount = type === 'PAYMENT' || type === 'DEBIT' ? logNormal(8_000, 1) : logNormal(120_000, 1.1);
    const spent = oldBalance > 0 && type !== 'CASH_IN' ? Math.min(amount, oldBalance * (0.1 + 0.8 * random())) : amount;
    const dest = type === 'PAYMENT' ? pick(merchants) : pick(customers);
    push(step, type, spent, pick(customers), oldBalance, dest, dest.startsWith('M') ? 0 : logNormal(80_000, 1.5), 0);
  }
  return records.sort((a, b) => (a.step as number) - (b.step as number));
}

function pickWeighted(random: () => number, weights: readonly [string, number][]): string {
  let draw = random() * weights.reduce((sum, [, weight]) => sum + weight, 0);
  for (const [value, weight] of weights) {
    draw -= weight;
    if (draw < 0) return value;
  }
  return weights[weights.length - 1][0];
}

/** Draws a standard normal value by the Box-Muller transform. */
function gaussian(random: () => number): number {
  const u = 1 - random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}
