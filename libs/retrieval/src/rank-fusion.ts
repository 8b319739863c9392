/**
 * Default RRF constant. Cormack, Clarke and Büttcher (SIGIR 2009, "Reciprocal rank fusion
 * outperforms Condorcet and individual rank learning methods") used k = 60.
 */
export const DEFAULT_RRF_K = 60;

/** A list's ranking of one item: its 1-based rank in that list. */
export interface FusedItem<T> {
  id: string;
  score: number;
  /** 1-based rank of the item in each input list, or null when the list does not contain it. */
  ranks: Array<number | null>;
  item: T;
}

/**
 * Fuses ranked lists by reciprocal rank fusion: score(d) = sum over lists of weight / (k + rank).
 * Items appear once, keyed by `idOf`; ties are broken by the best single rank and then by id, so
 * the order is deterministic. Returns every item, best first.
 */
export function reciprocalRankFusion<T>(
  lists: ReadonlyArray<readonly T[]>,
  idOf: (item: T) => string,
  options: { k?: number; weights?: readonly number[] } = {},
): FusedItem<T>[] {
  const k = options.k ?? DEFAULT_RRF_K;
  if (!(k >= 0) || !Number.isFinite(k)) throw new RangeError(`reciprocalRankFusion: k must be a finite number >= 0, got ${k}`);
  const fused = new Map<string, FusedItem<T>>();
  lists.forEach((list, listIndex) => {
    const weight = options.weights?.[listIndex] ?? 1;
    list.forEach((item, position) => {
      const id = idOf(item);
      let entry = fused.get(id);
      if (!entry) {
        entry = { id, score: 0, ranks: lists.map(() => null), item };
        fused.set(id, entry);
      }
      // A list that repeats an item counts it at its best rank only.
      if (entry.ranks[listIndex] !== null) return;
      entry.ranks[listIndex] = position + 1;
      entry.score += weight / (k + position + 1);
    });
  });
  const bestRank = (entry: FusedItem<T>) => Math.min(...entry.ranks.map((rank) => rank ?? Number.POSITIVE_INFINITY));
  return [...fused.values()].sort((a, b) => b.score - a.score || bestRank(a) - bestRank(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
