/**
 * Groundedness of a generated answer: how much of it the cited passages support.
 *
 * The answer is split into sentences, and each sentence is compared with the passages it may rest
 * on: the ones it cites with markers such as [2], or every cited passage when it cites none. A
 * sentence is supported when most of its content words occur in one passage and every number it
 * states occurs there too, since a changed figure or date is the most harmful kind of unsupported
 * claim in a regulatory answer. Lexical support is a conservative proxy for entailment: a
 * paraphrase with new words scores low and goes to a reviewer, which is the safe direction.
 */

export interface GroundednessOptions {
  /** Share of a sentence's content words that one passage must contain, 0 to 1. */
  minSentenceSupport: number;
  /** Sentences with fewer content words than this (such as "Yes.") are neither counted for nor against. */
  minContentWords: number;
}

export const DEFAULT_GROUNDEDNESS_OPTIONS: GroundednessOptions = { minSentenceSupport: 0.6, minContentWords: 3 };

export interface SentenceSupport {
  sentence: string;
  /** Best share of content words found in one allowed passage, 0 to 1. */
  support: number;
  /** Index (0-based) of the passage that supports the sentence best, or null when none was allowed. */
  passage: number | null;
  /** Numbers the sentence states that the best passage does not contain. */
  missingNumbers: string[];
  /** True when the sentence was too short to judge and is left out of the score. */
  skipped: boolean;
  supported: boolean;
}

export interface GroundednessReport {
  /** Supported sentences over judged sentences, 0 to 1; 0 when no sentence could be judged. */
  score: number;
  sentences: SentenceSupport[];
}

const STOPWORDS = new Set(
  (
    'a an and are as at be been being but by can could did do does for from had has have how if in into is it its ' +
    'may might must no not of on or our shall should so such than that the their them then there these they this ' +
    'those to under was we were what when where which while who whom why will with would you your also any each ' +
    'other only same very more most all both either neither nor per via upon'
  ).split(' '),
);

/** Citation markers the prompt template asks the model to write, such as [1] or [2, 3]. */
const MARKER = /\[(\d+(?:\s*,\s*\d+)*)\]/g;

/** Splits text into sentences at ., ! or ? followed by space and a capital, digit or quote, and at line breaks. */
export function splitSentences(text: string): string[] {
  return text
    .split(/\n+/)
    .map((line) => line.replace(/^\s*(?:[-*\u2022]|\d+[.)])\s+/, ''))
    .flatMap((line) => line.split(/(?<=[.!?])\s+(?=[A-Z0-9"'(\u201C])/))
    .map((sentence) => sentence.trim())
    .filter((sentence) => sentence.length > 0);
}

/** Lower-cased words with a light suffix strip, so "requires" and "required" meet "require". */
function stem(word: string): string {
  if (word.length > 5 && word.endsWith('ing')) return word.slice(0, -3);
  if (word.length > 4 && word.endsWith('ed')) return word.slice(0, -2);
  if (word.length > 4 && word.endsWith('es')) return word.slice(0, -2);
  if (word.length > 3 && word.endsWith('s') && !word.endsWith('ss')) return word.slice(0, -1);
  if (word.length > 4 && word.endsWith('e')) return word.slice(0, -1);
  return word;
}

function contentWords(text: string): string[] {
  const words = text.toLowerCase().normalize('NFKC').match(/[\p{L}][\p{L}\p{N}'-]*/gu) ?? [];
  return words.filter((word) => word.length > 1 && !STOPWORDS.has(word)).map(stem);
}

/** Numbers as written, without thousands separators: "25 months", "1,000" and "1002.9" give 25, 1000, 1002.9. */
function numbers(text: string): string[] {
  return (text.match(/\d[\d,]*(?:\.\d+)?/g) ?? []).map((value) => value.replace(/,/g, '').replace(/\.$/, ''));
}

interface PreparedPassage {
  words: Set<string>;
  numbers: Set<string>;
}

function prepare(passage: string): PreparedPassage {
  return { words: new Set(contentWords(passage)), numbers: new Set(numbers(passage)) };
}

/** The passages a sentence may rest on: those its markers name (1-based), else all of them. */
function allowedPassages(markers: number[], count: number): number[] {
  const named = markers.map((marker) => marker - 1).filter((index) => index >= 0 && index < count);
  if (named.length > 0) return [...new Set(named)];
  return Array.from({ length: count }, (_, index) => index);
}

/** Scores every sentence of `answer` against `passages` (the cited chunk texts, in citation order). */
export function checkGroundedness(
  answer: string,
  passages: readonly string[],
  options: GroundednessOptions = DEFAULT_GROUNDEDNESS_OPTIONS,
): GroundednessReport {
  const prepared = passages.map(prepare);
  const sentences: SentenceSupport[] = [];

  for (const sentence of splitSentences(answer)) {
    const markers = [...sentence.matchAll(MARKER)].flatMap((match) => match[1].split(',').map((value) => Number(value.trim())));
    const claim = sentence.replace(MARKER, ' ');
    const words = contentWords(claim);
    const stated = numbers(claim);
    if (words.length < options.minContentWords) {
      sentences.push({ sentence, support: 0, passage: null, missingNumbers: [], skipped: true, supported: false });
      continue;
    }

    let best: { support: number; passage: number | null; missingNumbers: string[] } = { support: 0, passage: null, missingNumbers: stated };
    for (const index of allowedPassages(markers, prepared.length)) {
      const passage = prepared[index];
      const found = words.filter((word) => passage.words.has(word)).length;
      const support = found / words.length;
      const missingNumbers = stated.filter((value) => !passage.numbers.has(value));
      // A passage that contains every stated number beats one with more shared words but a missing figure.
      const better =
        best.passage === null ||
        missingNumbers.length < best.missingNumbers.length ||
        (missingNumbers.length === best.missingNumbers.length && support > best.support);
      if (better) best = { support, passage: index, missingNumbers };
    }
    const supported = best.passage !== null && best.support >= options.minSentenceSupport && best.missingNumbers.length === 0;
    sentences.push({ sentence, ...best, skipped: false, supported });
  }

  const judged = sentences.filter((sentence) => !sentence.skipped);
  const score = judged.length === 0 ? 0 : judged.filter((sentence) => sentence.supported).length / judged.length;
  return { score, sentences };
}
