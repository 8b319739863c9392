import { BadUserInputError } from '../../common/src/index.js';

/**
 * Area under the ROC curve by the Mann-Whitney rank statistic. Tied scores get their average
 * rank, so a tie between a positive and a negative counts as half a correctly ordered pair.
 * `labels[i]` is true for the positive class (default).
 */
export function rocAuc(scores: readonly number[], labels: readonly boolean[]): number {
  const { positives, negatives } = countClasses(scores, labels);
  const order = scores.map((_, index) => index).sort((a, b) => scores[a] - scores[b]);

  let positiveRankSum = 0;
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end + 1 < order.length && scores[order[end + 1]] === scores[order[start]]) end++;
    // Ranks are 1-based, so the tie group start..end shares the rank (start + 1 + end + 1) / 2.
    const averageRank = (start + end + 2) / 2;
    for (let k = start; k <= end; k++) if (labels[order[k]]) positiveRankSum += averageRank;
    start = end + 1;
  }

  return (positiveRankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/**
 * Kolmogorov-Smirnov statistic: the largest gap between the score distributions of negatives and
 * positives. The gap is measured only after a whole group of tied scores, because no threshold
 * can split a tie.
 */
export function ksStatistic(scores: readonly number[], labels: readonly boolean[]): number {
  const { positives, negatives } = countClasses(scores, labels);
  const order = scores.map((_, index) => index).sort((a, b) => scores[a] - scores[b]);

  let positivesBelow = 0;
  let negativesBelow = 0;
  let maximumGap = 0;
  for (let k = 0; k < order.length; k++) {
    if (labels[order[k]]) positivesBelow++;
    else negativesBelow++;
    const endOfTieGroup = k + 1 === order.length || scores[order[k + 1]] !== scores[order[k]];
    if (endOfTieGroup) {
      maximumGap = Math.max(maximumGap, Math.abs(negativesBelow / negatives - positivesBelow / positives));
    }
  }
  return maximumGap;
}

/** Discrimination metrics of a probability-of-default score on one sample. */
export interface DiscriminationMetrics {
  auc: number;
  ks: number;
  /** 2 * AUC - 1, the accuracy ratio used in credit scoring. */
  gini: number;
}

export function discriminationMetrics(scores: readonly number[], labels: readonly boolean[]): DiscriminationMetrics {
  const auc = rocAuc(scores, labels);
  return { auc, ks: ksStatistic(scores, labels), gini: 2 * auc - 1 };
}

function countClasses(scores: readonly number[], labels: readonly boolean[]): { positives: number; negatives: number } {
  if (scores.length !== labels.length) {
    throw new BadUserInputError(`Scores and labels differ in length: ${scores.length} scores, ${labels.length} labels.`);
  }
  if (scores.some((score) => Number.isNaN(score))) throw new BadUserInputError('Scores contain NaN.');
  const positives = labels.filter(Boolean).length;
  const negatives = labels.length - positives;
  if (positives === 0 || negatives === 0) {
    throw new BadUserInputError(`AUC and KS need both classes, got ${positives} positives and ${negatives} negatives.`);
  }
  return { positives, negatives };
}
