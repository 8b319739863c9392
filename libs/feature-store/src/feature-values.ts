import { evaluateExpression } from './expression.js';
import type { Aggregation, FeatureView } from './feature-view.js';

/**
 * Raw result of one aggregation as both stores return it: an event count, or a numeric as
 * decimal text (sums, minimums, maximums, exact as PostgreSQL computed them), or null.
 */
export interface RawAggregate {
  count: number;
  /** Sum, minimum or maximum as decimal text; null when the window has no value. */
  numeric: string | null;
}

/** Feature values by name: aggregations, inputs and derived features. */
export type FeatureValues = Record<string, number | null>;

/**
 * Turns raw aggregates into feature values and evaluates the derived features. The online read
 * and the training-set export both call it, so the same raw aggregates give the same numbers.
 */
export function computeFeatureValues(view: FeatureView, raw: readonly RawAggregate[], inputs: Readonly<Record<string, number | null>>): FeatureValues {
  const values: FeatureValues = {};
  view.aggregations.forEach((aggregation, index) => {
    values[aggregation.name] = finalize(aggregation, raw[index]);
  });
  const scope: FeatureValues = { ...values };
  for (const input of view.inputs) scope[input] = inputs[input] ?? null;
  for (const derived of view.derived) {
    const value = evaluateExpression(derived.expression, scope);
    values[derived.name] = value;
    scope[derived.name] = value;
  }
  return values;
}

function finalize(aggregation: Aggregation, raw: RawAggregate): number | null {
  switch (aggregation.function) {
    case 'count':
    case 'distinct_count':
      return raw.count;
    case 'sum':
      return raw.numeric === null ? 0 : Number(raw.numeric);
    case 'mean':
      return raw.count === 0 || raw.numeric === null ? null : Number(raw.numeric) / raw.count;
    case 'min':
    case 'max':
      return raw.numeric === null ? null : Number(raw.numeric);
  }
}
