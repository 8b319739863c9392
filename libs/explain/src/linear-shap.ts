import { BadUserInputError, FailedPreconditionError } from '../../common/src/index.js';

/** A linear model in log-odds over encoded columns, as the logistic regression trainer returns it. */
export interface LinearModel {
  coefficients: readonly number[];
  intercept: number;
  columns: readonly { name: string; feature: string; level?: string; mean?: number; std?: number }[];
}

/**
 * The point that attributions are measured from, stored with the model version. `point` is in the
 * encoded (standardized, one-hot) space and has log-odds `logit(cutoff)`.
 */
export interface DecisionReference {
  method: 'decision-boundary-nearest-training-mean';
  /** Approval cut-off on the probability of default: applications scoring above it are not approved. */
  cutoff: number;
  point: number[];
}

/** The part of an applicant's log-odds, relative to the reference, that one feature accounts for. */
export interface Attribution {
  feature: string;
  /** The applicant's category code, or for a numeric feature the raw value. */
  value: string | number | null;
  /** Log-odds of default that this feature adds (positive) or removes (negative). */
  contribution: number;
}

/**
 * Places the explanation reference on the approval cut-off instead of at the population mean.
 *
 * Reason codes must state why this applicant missed approval: US Regulation B, 12 CFR
 * 1002.9(b)(2), requires the principal reasons for an adverse action. Measured from a point whose
 * score is exactly the cut-off, the attributions sum to logit(x) - logit(cutoff), and a positive
 * attribution is a factor that moved the applicant toward decline from the cut-off. Measured from
 * the mean, the notice to a declined applicant would also list factors on which an approved
 * applicant is merely below average, which are not reasons for the decision.
 *
 * Of all points on the boundary w·r + b = logit(cutoff), this takes the one nearest the training
 * mean μ in the standardized encoded space: r = μ + t·w with t = (logit(cutoff) - (w·μ + b)) / ‖w‖².
 * NOTE: r can have fractional or negative one-hot entries, which no real applicant has. Linear
 * SHAP does not need r to be a possible record, only a fixed point in the encoded space.
 */
export function computeDecisionReference(model: LinearModel, columnMeans: readonly number[], cutoff: number): DecisionReference {
  if (!(cutoff > 0 && cutoff < 1)) {
    throw new BadUserInputError(`The approval cut-off must be a probability strictly between 0 and 1, got ${cutoff}.`, [
      { field: '/cutoff', message: 'must be in (0, 1)' },
    ]);
  }
  assertWidth(model, columnMeans.length, 'column-means vector');

  const squaredNorm = model.coefficients.reduce((sum, weight) => sum + weight * weight, 0);
  if (!(squaredNorm > 0)) {
    throw new FailedPreconditionError('Every coefficient of the model is 0, so no point separates approval from decline.');
  }
  const meanLogOdds = linearPredictor(model, columnMeans);
  const step = (Math.log(cutoff / (1 - cutoff)) - meanLogOdds) / squaredNorm;
  const point = columnMeans.map((mean, j) => mean + step * model.coefficients[j]);
  return { method: 'decision-boundary-nearest-training-mean', cutoff, point };
}

/**
 * Computes exact SHAP values of a linear model in log-odds with independent features:
 * φ_j = w_j (x_j - r_j) per encoded column, summed over the one-hot columns of a categorical.
 * The values add up to logit(x) - logit(r) up to floating-point rounding. Sorted by contribution,
 * largest first.
 */
export function computeAttributions(
  model: LinearModel,
  encodedRow: Float64Array,
  reference: Pick<DecisionReference, 'point'>,
): Attribution[] {
  assertWidth(model, encodedRow.length, 'encoded row');
  assertWidth(model, reference.point.length, 'reference point');

  const byFeature = new Map<string, Attribution>();
  model.columns.forEach((column, j) => {
    let attribution = byFeature.get(column.feature);
    if (!attribution) {
      attribution = { feature: column.feature, value: null, contribution: 0 };
      byFeature.set(column.feature, attribution);
    }
    attribution.contribution += model.coefficients[j] * (encodedRow[j] - reference.point[j]);

    if (column.level !== undefined) {
      if (encodedRow[j] === 1) attribution.value = column.level;
    } else if (column.mean !== undefined && column.std !== undefined) {
      // Undoing the standardization leaves rounding noise such as 24.000000000000004, which 12
      // significant digits remove without changing any value a credit application carries.
      attribution.value = Number((encodedRow[j] * column.std + column.mean).toPrecision(12));
    } else {
      attribution.value = encodedRow[j];
    }
  });

  return [...byFeature.values()].sort((a, b) => b.contribution - a.contribution || a.feature.localeCompare(b.feature));
}

/** Computes the model's log-odds w·x + b for an encoded row. */
export function linearPredictor(model: LinearModel, encodedRow: ArrayLike<number>): number {
  let total = model.intercept;
  for (let j = 0; j < model.coefficients.length; j++) total += model.coefficients[j] * encodedRow[j];
  return total;
}

function assertWidth(model: LinearModel, width: number, vectorName: string): void {
  if (width !== model.coefficients.length || model.columns.length !== model.coefficients.length) {
    throw new BadUserInputError(
      `The ${vectorName} has ${width} columns but the model has ${model.coefficients.length} coefficients and ${model.columns.length} columns.`,
    );
  }
}
