import { BadUserInputError, FailedPreconditionError, seededShuffle } from '../../common/src/index.js';
import { FeatureEncoder, type EncodedColumn, type EncoderState, type FeatureRecord, type FeatureSpec } from './feature-encoder.js';
import { discriminationMetrics, rocAuc } from './metrics.js';

export interface IrlsOptions {
  /** L2 penalty λ in the objective -loglik + λ/2 * ||w||^2; the intercept is not penalized. */
  l2: number;
  /** Converged when the largest Newton step over all parameters is at most this (default 1e-10). */
  tolerance?: number;
  maxIterations?: number;
}

export interface IrlsResult {
  coefficients: number[];
  intercept: number;
  iterations: number;
  /** Penalized negative log-likelihood at the solution. */
  objective: number;
}

/**
 * Fits a logistic regression with an intercept by Newton-Raphson, which for the logistic loss is
 * iteratively reweighted least squares. Each step solves (X'WX + λI₀) Δ = X'(y - p) - λβ₀ by
 * Cholesky, where I₀ and β₀ leave the intercept out. The result depends only on the inputs.
 */
export function fitLogisticRegression(design: readonly Float64Array[], outcomes: readonly boolean[], options: IrlsOptions): IrlsResult {
  const tolerance = options.tolerance ?? 1e-10;
  const maxIterations = options.maxIterations ?? 50;
  if (!(options.l2 >= 0) || !Number.isFinite(options.l2)) {
    throw new BadUserInputError(`l2 must be a finite number >= 0, got ${options.l2}.`, [{ field: '/l2', message: 'must be >= 0' }]);
  }
  if (design.length === 0 || design.length !== outcomes.length) {
    throw new BadUserInputError(`The design has ${design.length} rows and there are ${outcomes.length} outcomes; they must match and be non-empty.`);
  }

  const width = design[0].length;
  const size = width + 1;
  // beta[0] is the intercept and beta[j + 1] the coefficient of column j.
  const beta = new Float64Array(size);

  for (let iteration = 1; iteration <= maxIterations; iteration++) {
    const hessian = new Float64Array(size * size);
    const gradient = new Float64Array(size);
    accumulateNewtonSystem(design, outcomes, beta, hessian, gradient);
    for (let j = 1; j < size; j++) {
      hessian[j * size + j] += options.l2;
      gradient[j] -= options.l2 * beta[j];
    }

    const step = solveSymmetricPositiveDefinite(hessian, gradient, size);
    let largestStep = 0;
    for (let j = 0; j < size; j++) {
      beta[j] += step[j];
      largestStep = Math.max(largestStep, Math.abs(step[j]));
    }
    if (!beta.every(Number.isFinite)) break;
    if (largestStep <= tolerance) {
      return {
        intercept: beta[0],
        coefficients: Array.from(beta.subarray(1)),
        iterations: iteration,
        objective: penalizedObjective(design, outcomes, beta, options.l2),
      };
    }
  }

  throw new FailedPreconditionError(
    `Logistic regression did not converge in ${maxIterations} Newton steps; the classes may be separable. Increase l2 (the L2 penalty) and train again.`,
  );
}

function accumulateNewtonSystem(
  design: readonly Float64Array[],
  outcomes: readonly boolean[],
  beta: Float64Array,
  hessian: Float64Array,
  gradient: Float64Array,
): void {
  const size = beta.length;
  const row = new Float64Array(size);
  for (let i = 0; i < design.length; i++) {
    row[0] = 1;
    row.set(design[i], 1);
    let eta = 0;
    for (let j = 0; j < size; j++) eta += beta[j] * row[j];
    const probability = sigmoid(eta);
    const weight = probability * (1 - probability);
    const residual = (outcomes[i] ? 1 : 0) - probability;
    for (let j = 0; j < size; j++) {
      gradient[j] += row[j] * residual;
      const weighted = weight * row[j];
      if (weighted === 0) continue;
      for (let k = j; k < size; k++) hessian[j * size + k] += weighted * row[k];
    }
  }
  for (let j = 0; j < size; j++) for (let k = 0; k < j; k++) hessian[j * size + k] = hessian[k * size + j];
}

function penalizedObjective(design: readonly Float64Array[], outcomes: readonly boolean[], beta: Float64Array, l2: number): number {
  let total = 0;
  for (let i = 0; i < design.length; i++) {
    let eta = beta[0];
    for (let j = 0; j < design[i].length; j++) eta += beta[j + 1] * design[i][j];
    // -log p(y) = log(1 + e^eta) - y * eta, written to avoid overflow for large |eta|.
    total += softplus(eta) - (outcomes[i] ? eta : 0);
  }
  let squaredNorm = 0;
  for (let j = 1; j < beta.length; j++) squaredNorm += beta[j] ** 2;
  return total + (l2 / 2) * squaredNorm;
}

/** Solves A x = b for a symmetric positive definite A (row-major, size × size) by Cholesky. */
function solveSymmetricPositiveDefinite(matrix: Float64Array, rhs: Float64Array, size: number): Float64Array {
  const lower = new Float64Array(size * size);
  for (let i = 0; i < size; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = matrix[i * size + j];
      for (let k = 0; k < j; k++) sum -= lower[i * size + k] * lower[j * size + k];
      if (i === j) {
        if (!(sum > 0)) {
          throw new FailedPreconditionError(
            'The Newton system is singular: some encoded columns are collinear (for example a full one-hot set beside the intercept). Set l2 > 0 and train again.',
          );
        }
        lower[i * size + i] = Math.sqrt(sum);
      } else {
        lower[i * size + j] = sum / lower[j * size + j];
      }
    }
  }

  const forward = new Float64Array(size);
  for (let i = 0; i < size; i++) {
    let sum = rhs[i];
    for (let k = 0; k < i; k++) sum -= lower[i * size + k] * forward[k];
    forward[i] = sum / lower[i * size + i];
  }
  const solution = new Float64Array(size);
  for (let i = size - 1; i >= 0; i--) {
    let sum = forward[i];
    for (let k = i + 1; k < size; k++) sum -= lower[k * size + i] * solution[k];
    solution[i] = sum / lower[i * size + i];
  }
  return solution;
}

/** The logistic function, evaluated without overflow for large |z|. */
export function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

export function logit(probability: number): number {
  return Math.log(probability / (1 - probability));
}

function softplus(z: number): number {
  return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
}

export interface TrainLogisticRegressionOptions {
  spec: FeatureSpec;
  /** Field of each row that contains the outcome, such as `credit_risk`. */
  label: string;
  /** Label value of the class whose probability the model predicts, such as 2 (bad) for default. */
  positiveValue: string | number;
  seed: number;
  /** Share of rows held out for the metrics (default 0.3). */
  holdoutFraction?: number;
  /**
   * Splits by position instead of by seeded shuffle: rows before this index train the model and
   * the rest is the holdout. Pass rows sorted by time for a time-ordered split, where the model
   * never sees an event that happened after a holdout event. Overrides holdoutFraction.
   */
  holdoutFrom?: number;
  /** L2 penalty λ on the standardized coefficients, not the intercept (default 1). */
  l2?: number;
  tolerance?: number;
  maxIterations?: number;
}

/** Quality of a trained model; the AUC, KS and Gini are measured on the holdout rows. */
export interface TrainingMetrics {
  auc: number;
  ks: number;
  gini: number;
  trainAuc: number;
  trainingRows: number;
  holdoutRows: number;
  /** Share of holdout rows in the positive class. */
  holdoutPositiveRate: number;
  iterations: number;
}

export interface TrainedLogisticRegression {
  /** One coefficient per encoded column, in `columns` order, in log-odds per standardized unit. */
  coefficients: number[];
  intercept: number;
  columns: EncodedColumn[];
  encoder: EncoderState;
  /** Mean of each encoded column over the training rows, the anchor of the explanation reference. */
  columnMeans: number[];
  metrics: TrainingMetrics;
  trainingConfig: { label: string; positiveValue: string | number; seed: number; holdoutFraction: number; l2: number; tolerance: number };
}

/**
 * Trains a logistic regression scorecard: a seeded shuffle splits the rows into training and
 * holdout, the encoder is fitted on the training split only, IRLS fits the coefficients and the
 * holdout gives AUC, KS and Gini. The same rows and options always give the same model.
 */
export function trainLogisticRegression(rows: readonly FeatureRecord[], options: TrainLogisticRegressionOptions): TrainedLogisticRegression {
  const holdoutFraction = options.holdoutFraction ?? 0.3;
  const l2 = options.l2 ?? 1;
  const tolerance = options.tolerance ?? 1e-10;
  if (!(holdoutFraction > 0 && holdoutFraction < 1)) {
    throw new BadUserInputError(`holdoutFraction must be between 0 and 1 (exclusive), got ${holdoutFraction}.`, [
      { field: '/holdoutFraction', message: 'must be in (0, 1), such as 0.3' },
    ]);
  }
  if (!Number.isInteger(options.seed)) {
    throw new BadUserInputError(`seed must be an integer, got ${options.seed}.`, [{ field: '/seed', message: 'must be an integer' }]);
  }

  const outcomes = rows.map((row, index) => readOutcome(row, options.label, options.positiveValue, index));
  let holdoutIndexes: number[];
  let trainingIndexes: number[];
  if (options.holdoutFrom !== undefined) {
    const from = options.holdoutFrom;
    if (!Number.isInteger(from) || from < 2 || from >= rows.length) {
      throw new BadUserInputError(`holdoutFrom must be a row index from 2 to ${rows.length - 1}, got ${from}.`, [
        { field: '/holdoutFrom', message: 'must leave at least 2 training rows and 1 holdout row' },
      ]);
    }
    const indexes = rows.map((_, index) => index);
    trainingIndexes = indexes.slice(0, from);
    holdoutIndexes = indexes.slice(from);
  } else {
    const shuffled = seededShuffle(
      rows.map((_, index) => index),
      options.seed,
    );
    const holdoutCount = Math.round(rows.length * holdoutFraction);
    holdoutIndexes = shuffled.slice(0, holdoutCount);
    trainingIndexes = shuffled.slice(holdoutCount);
  }

  const encoder = FeatureEncoder.fit(
    options.spec,
    trainingIndexes.map((index) => rows[index]),
  );
  const encode = (indexes: number[]) => indexes.map((index) => encoder.encode(rows[index]));
  const trainingDesign = encode(trainingIndexes);
  const holdoutDesign = encode(holdoutIndexes);
  const trainingOutcomes = trainingIndexes.map((index) => outcomes[index]);
  const holdoutOutcomes = holdoutIndexes.map((index) => outcomes[index]);

  const fit = fitLogisticRegression(trainingDesign, trainingOutcomes, { l2, tolerance, maxIterations: options.maxIterations });
  const score = (row: Float64Array) => scoreFromCoefficients(fit.coefficients, fit.intercept, row);
  const holdout = discriminationMetrics(holdoutDesign.map(score), holdoutOutcomes);

  return {
    coefficients: fit.coefficients,
    intercept: fit.intercept,
    columns: encoder.columns.map((column) => ({ ...column })),
    encoder: encoder.toJSON(),
    columnMeans: columnMeans(trainingDesign, encoder.width),
    metrics: {
      auc: holdout.auc,
      ks: holdout.ks,
      gini: holdout.gini,
      trainAuc: rocAuc(trainingDesign.map(score), trainingOutcomes),
      trainingRows: trainingIndexes.length,
      holdoutRows: holdoutIndexes.length,
      holdoutPositiveRate: holdoutOutcomes.filter(Boolean).length / holdoutOutcomes.length,
      iterations: fit.iterations,
    },
    trainingConfig: { label: options.label, positiveValue: options.positiveValue, seed: options.seed, holdoutFraction, l2, tolerance },
  };
}

/** Probability of the positive class for one encoded row: sigmoid(intercept + w · x). */
export function scoreFromCoefficients(coefficients: readonly number[], intercept: number, row: Float64Array): number {
  if (row.length !== coefficients.length) {
    throw new BadUserInputError(`Encoded row has ${row.length} columns but the model has ${coefficients.length} coefficients.`);
  }
  let eta = intercept;
  for (let j = 0; j < row.length; j++) eta += coefficients[j] * row[j];
  return sigmoid(eta);
}

function columnMeans(design: readonly Float64Array[], width: number): number[] {
  const sums = new Float64Array(width);
  for (const row of design) for (let j = 0; j < width; j++) sums[j] += row[j];
  return Array.from(sums, (sum) => sum / design.length);
}

function readOutcome(row: FeatureRecord, label: string, positiveValue: string | number, index: number): boolean {
  const value = row[label];
  if (value === undefined || value === null || value === '') {
    throw new BadUserInputError(`Training row ${index} has no ${label}.`, [{ field: `/${index}/${label}`, message: 'is missing' }]);
  }
  return String(value) === String(positiveValue);
}
