/**
 * Prices and costs as fixed-point decimals: a bigint of units of 10^-12 of the currency, so money
 * never passes through a float. Cost columns are numeric(24, 12).
 */
export const DECIMAL_SCALE = 12;
const ONE = 10n ** BigInt(DECIMAL_SCALE);

/** How a model's calls are priced. */
export type Pricing =
  | { kind: 'none' }
  /** A hosted API's list price per 1,000 prompt and completion tokens. */
  | { kind: 'per-token'; promptPer1k: bigint; completionPer1k: bigint }
  /**
   * A self-hosted server's amortized cost: the price of one GPU-hour spread over the tokens the
   * server processes in an hour at its measured throughput.
   */
  | { kind: 'gpu'; gpuHourPrice: bigint; tokensPerSecond: bigint };

/** Parses a non-negative decimal (number or string) with at most 12 decimal places. */
export function parseDecimal(value: unknown): bigint | undefined {
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
  if (typeof text !== 'string') return undefined;
  const match = /^(\d{1,12})(?:\.(\d{1,12}))?$/.exec(text.trim());
  if (!match) return undefined;
  return BigInt(match[1]) * ONE + BigInt((match[2] ?? '').padEnd(DECIMAL_SCALE, '0'));
}

/** Formats a fixed-point amount as a decimal string with 12 decimal places, as numeric columns take it. */
export function formatDecimal(amount: bigint): string {
  const whole = amount / ONE;
  const fraction = (amount % ONE).toString().padStart(DECIMAL_SCALE, '0');
  return `${whole}.${fraction}`;
}

/**
 * Returns the cost of one call, rounded half up to 10^-12, or undefined when the pricing is
 * unknown or a token count is unknown (a cost of zero would claim the call was free).
 */
export function callCost(pricing: Pricing, promptTokens: number | null, completionTokens: number | null): bigint | undefined {
  if (pricing.kind === 'none' || promptTokens === null) return undefined;
  const completion = BigInt(completionTokens ?? 0);
  const prompt = BigInt(promptTokens);
  if (pricing.kind === 'per-token') {
    return divideRounded(prompt * pricing.promptPer1k + completion * pricing.completionPer1k, 1000n);
  }
  // GPU-hour price / (3600 s * tokens per second) is the cost of one token; both prices carry the scale.
  return divideRounded((prompt + completion) * pricing.gpuHourPrice * ONE, 3600n * pricing.tokensPerSecond);
}

function divideRounded(numerator: bigint, denominator: bigint): bigint {
  return (numerator * 2n + denominator) / (denominator * 2n);
}
