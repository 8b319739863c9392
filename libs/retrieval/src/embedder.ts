/** Turns texts into vectors of one fixed size. Every vector an embedder returns is L2-normalized. */
export interface Embedder {
  /** `lexical`, `onnx` or `openai`. */
  readonly provider: string;
  /** Model name recorded with every chunk, such as `warden-lexical-v1` or a served model's name. */
  readonly model: string;
  readonly dimension: number;
  embed(texts: readonly string[]): Promise<number[][]>;
}

/** Scales a vector to unit length in place; a zero vector stays zero. Returns the vector. */
export function normalizeL2(vector: number[]): number[] {
  let sumOfSquares = 0;
  for (const value of vector) sumOfSquares += value * value;
  if (sumOfSquares === 0) return vector;
  const norm = Math.sqrt(sumOfSquares);
  for (let index = 0; index < vector.length; index += 1) vector[index] /= norm;
  return vector;
}
