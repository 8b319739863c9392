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
  /** Figures (numbers with their unit or currency) the sentence states that the best passage does not contain. */
  missingNumbers: string[];
  /** Negations ("not", "never") the sentence states that the best passage does not contain. */
  missingNegations: string[];
  /** True when the sentence was too short to judge and is left out of the score. */
  skipped: boolean;
  supported: boolean;
}

export interface GroundednessReport {
  /** Supported sentences over judged sentences, 0 to 1; 0 when no sentence could be judged. */
  score: number;
  /**
   * Unsupported sentences that state a figure or a negation. One is enough to send an answer to a
   * person whatever the score, because a wrong deadline or a dropped "not" does the most harm.
   */
  unsupportedClaims: number;
  sentences: SentenceSupport[];
}

const STOPWORDS = new Set(
  (
    'a an and are as at be been being but by can could did do does for from had has have how if in into is it its ' +
    'may might must of on or our shall should so such than that the their them then there these they this ' +
    'those to under was we were what when where which while who whom why will with would you your also any each ' +
    'other only same very more most all both either per via upon'
  ).split(' '),
);

/** Words that turn a statement around; a sentence may use one only when its passage does too. */
const NEGATIONS = new Set(['no', 'not', 'never', 'nor', 'neither', 'none', 'cannot', 'without', 'nothing', 'nobody']);

/** Words after a number that make it a different figure: 25 months is not 25 years. */
const UNITS = new Set(
  [
    'second', 'minute', 'hour', 'day', 'week', 'month', 'year', 'percent', 'thousand', 'million', 'billion',
    'time', 'business', 'calendar', 'dollar', 'euro', 'cent', 'point', 'basis',
  ].map(unitKey),
);

/** A unit word without its plural "s", so "months" and "month" are one unit. */
function unitKey(word: string): string {
  return word.toLowerCase().replace(/s$/, '');
}

const SMALL_NUMBERS: Record<string, number> = {
  zero: 0, one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10, eleven: 11,
  twelve: 12, thirteen: 13, fourteen: 14, fifteen: 15, sixteen: 16, seventeen: 17, eighteen: 18, nineteen: 19,
};
const TENS: Record<string, number> = { twenty: 20, thirty: 30, forty: 40, fifty: 50, sixty: 60, seventy: 70, eighty: 80, ninety: 90 };

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

/**
 * Rewrites English number words as digits, so "ninety-nine months" and "99 months" compare alike:
 * zero to nineteen, the tens, their hyphenated or spaced combinations, and "hundred" and "thousand"
 * multipliers ("one hundred twenty" gives 120).
 */
export function numberWordsToDigits(text: string): string {
  const word = 'zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand';
  const phrasePattern = new RegExp(`\\b(?:${word})(?:[\\s-]+(?:and[\\s-]+)?(?:${word}))*\\b`, 'gi');
  return text.replace(phrasePattern, (phrase) => {
    const words = phrase.toLowerCase().split(/[\s-]+/).filter((word) => word.length > 0 && word !== 'and');
    if (words.length === 0 || !words.some((word) => word in SMALL_NUMBERS || word in TENS)) return phrase;
    let total = 0;
    let current = 0;
    for (const word of words) {
      if (word in SMALL_NUMBERS) current += SMALL_NUMBERS[word];
      else if (word in TENS) current += TENS[word];
      else if (word === 'hundred') current = (current || 1) * 100;
      else if (word === 'thousand') {
        total += (current || 1) * 1000;
        current = 0;
      }
    }
    return String(total + current);
  });
}

/**
 * Figures as written: each number (thousands separators only in groups of three, so "2,5" is two
 * numbers) with a currency sign before it or a "%" or unit word after it, such as "$25", "25%",
 * "25 month". A bare number stands alone.
 */
function figures(text: string): string[] {
  const found: string[] = [];
  const pattern = /([$€£]\s?)?(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(\s?%|\s+[\p{L}]+)?/gu;
  for (const match of text.matchAll(pattern)) {
    const value = match[2].replace(/,/g, '');
    const currency = match[1]?.trim() ?? '';
    const after = match[3]?.trim().toLowerCase() ?? '';
    const unit = after === '%' || after === 'percent' ? '%' : UNITS.has(unitKey(after)) ? ` ${unitKey(after)}` : '';
    found.push(`${currency}${value}${unit}`);
  }
  return found;
}

interface PreparedPassage {
  words: Set<string>;
  figures: Set<string>;
}

function prepare(passage: string): PreparedPassage {
  const text = numberWordsToDigits(passage);
  return { words: new Set(contentWords(text)), figures: new Set(figures(text)) };
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
    const claim = numberWordsToDigits(sentence.replace(MARKER, ' '));
    const words = contentWords(claim);
    const stated = figures(claim);
    const negations = [...new Set(words.filter((word) => NEGATIONS.has(word)))];
    if (words.length < options.minContentWords) {
      sentences.push({ sentence, support: 0, passage: null, missingNumbers: [], missingNegations: [], skipped: true, supported: false });
      continue;
    }

    let best: Omit<SentenceSupport, 'sentence' | 'skipped' | 'supported'> = { support: 0, passage: null, missingNumbers: stated, missingNegations: negations };
    for (const index of allowedPassages(markers, prepared.length)) {
      const passage = prepared[index];
      const found = words.filter((word) => passage.words.has(word)).length;
      const support = found / words.length;
      const missingNumbers = stated.filter((value) => !passage.figures.has(value));
      const missingNegations = negations.filter((word) => !passage.words.has(word));
      const missing = missingNumbers.length + missingNegations.length;
      const bestMissing = best.missingNumbers.length + best.missingNegations.length;
      // A passage that backs every stated figure and negation beats one with more shared words.
      const better = best.passage === null || missing < bestMissing || (missing === bestMissing && support > best.support);
      if (better) best = { support, passage: index, missingNumbers, missingNegations };
    }
    const supported = best.passage !== null && best.support >= options.minSentenceSupport && best.missingNumbers.length === 0 && best.missingNegations.length === 0;
    sentences.push({ sentence, ...best, skipped: false, supported });
  }

  const judged = sentences.filter((sentence) => !sentence.skipped);
  const score = judged.length === 0 ? 0 : judged.filter((sentence) => sentence.supported).length / judged.length;
  const unsupportedClaims = judged.filter((sentence) => !sentence.supported && (figures(numberWordsToDigits(sentence.sentence.replace(MARKER, ' '))).length > 0 || contentWords(sentence.sentence).some((word) => NEGATIONS.has(word)))).length;
  return { score, unsupportedClaims, sentences };
}
