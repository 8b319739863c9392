import type { Embedder } from './embedder.js';
import { normalizeL2 } from './embedder.js';

export const LEXICAL_PROVIDER = 'lexical';
export const LEXICAL_MODEL = 'warden-lexical-v1';
export const DEFAULT_LEXICAL_DIMENSION = 512;

/**
 * Relative weights of the three feature families. Words carry the most meaning; character
 * n-grams let inflections and compounds ("notification", "notifications") share features.
 */
const WORD_WEIGHT = 1.0;
const BIGRAM_WEIGHT = 0.7;
const CHAR_NGRAM_WEIGHT = 0.35;
const CHAR_NGRAM_SIZES = [3, 4, 5] as const;

/** Frequent English function words, which carry no topic. */
const STOP_WORDS = new Set(
  (
    'a an and are as at be been but by can could did do does for from had has have he her his how i if in into is it its ' +
    'may me might must my no nor not of on or our shall she should so such than that the their them then there these they ' +
    'this those to was we were what when where which while who whom why will with would you your'
  ).split(' '),
);

/**
 * The built-in embedder: a deterministic feature-hashing vectorizer that needs no model weights.
 * Each text becomes lowercase word unigrams and bigrams (stop words dropped) and character
 * 3- to 5-grams of each word, hashed (FNV-1a, 32 bit) into `dimension` buckets with a hashed
 * sign so collisions cancel out on average instead of piling up. Counts are weighted
 * sublinearly (1 + ln tf) and the vector is L2-normalized, so cosine similarity measures shared
 * vocabulary. It finds lexical overlap, not synonyms: a sentence-embedding model (the onnx or
 * openai provider) is needed for meaning.
 */
export class LexicalEmbedder implements Embedder {
  readonly provider = LEXICAL_PROVIDER;
  readonly model = LEXICAL_MODEL;

  constructor(readonly dimension: number = DEFAULT_LEXICAL_DIMENSION) {
    if (!Number.isInteger(dimension) || dimension < 16 || dimension > 4096) {
      throw new RangeError(`LexicalEmbedder: dimension must be a whole number from 16 to 4096, got ${dimension}`);
    }
  }

  async embed(texts: readonly string[]): Promise<number[][]> {
    return texts.map((text) => this.embedOne(text));
  }

  /** Returns the embedding of one text synchronously. */
  embedOne(text: string): number[] {
    // Keyed by the full hash, so that bucket and sign come from the same feature.
    const features = new Map<number, { count: number; weight: number }>();
    const words = tokenize(text);
    const add = (feature: string, weight: number) => {
      const key = fnv1a(feature);
      const entry = features.get(key);
      if (entry) entry.count += 1;
      else features.set(key, { count: 1, weight });
    };

    let previous: string | undefined;
    for (const word of words) {
      if (STOP_WORDS.has(word)) {
        previous = undefined;
        continue;
      }
      add(`w:${word}`, WORD_WEIGHT);
      if (previous !== undefined) add(`b:${previous} ${word}`, BIGRAM_WEIGHT);
      previous = word;
      const padded = `<${word}>`;
      for (const size of CHAR_NGRAM_SIZES) {
        for (let start = 0; start + size <= padded.length; start += 1) add(`c:${padded.slice(start, start + size)}`, CHAR_NGRAM_WEIGHT);
      }
    }

    const vector = new Array<number>(this.dimension).fill(0);
    for (const [hash, { count, weight }] of features) {
      const bucket = hash % this.dimension;
      const sign = (hash >>> 31) === 1 ? -1 : 1;
      // Sublinear term frequency: ten mentions weigh 1 + ln 10 = 3.3 times one mention, not 10.
      vector[bucket] += sign * weight * (1 + Math.log(count));
    }
    return normalizeL2(vector);
  }
}

/** Lowercase words of letters and digits, keeping inner dots and hyphens ("1002.9", "e-mail"). */
export function tokenize(text: string): string[] {
  return text.normalize('NFKC').toLowerCase().match(/[\p{L}\p{N}]+(?:[.\-'][\p{L}\p{N}]+)*/gu) ?? [];
}

/** FNV-1a over the UTF-16 code units of `value`, as an unsigned 32-bit integer. */
function fnv1a(value: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < value.length; index += 1) {
    hash ^= value.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
