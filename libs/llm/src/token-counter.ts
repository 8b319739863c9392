import { readFileSync } from 'node:fs';
import { Tokenizer } from '@huggingface/tokenizers';
import { FailedPreconditionError } from '../../common/src/index.js';

/** Counts tokens with a model's own tokenizer when the upstream reports no usage. */
export interface TokenCounter {
  count(text: string): number;
}

const cache = new Map<string, TokenCounter>();

/**
 * Loads a Hugging Face tokenizer.json (and tokenizer_config.json beside it, when present) once per
 * path. Raises FailedPreconditionError when the file is missing or not a tokenizer.
 */
export function loadTokenCounter(path: string): TokenCounter {
  const cached = cache.get(path);
  if (cached) return cached;

  let tokenizer: Tokenizer;
  try {
    const json = JSON.parse(readFileSync(path, 'utf8')) as object;
    let config: object = {};
    try {
      config = JSON.parse(readFileSync(path.replace(/tokenizer\.json$/, 'tokenizer_config.json'), 'utf8')) as object;
    } catch {
      // tokenizer_config.json is optional: it only adds special-token settings.
    }
    tokenizer = new Tokenizer(json, config);
  } catch (error) {
    throw new FailedPreconditionError(`The tokenizer ${path} could not be loaded (${(error as Error).message}). Point the model's tokenizer at a Hugging Face tokenizer.json.`);
  }
  const counter: TokenCounter = { count: (text) => (text.length === 0 ? 0 : tokenizer.encode(text, { add_special_tokens: false }).ids.length) };
  cache.set(path, counter);
  return counter;
}

/**
 * Returns the text of a chat request's messages, an embeddings request's input, or a completion,
 * joined by newlines. This counts the content only, so the local count is an estimate below the
 * upstream's, which adds the chat template's tokens.
 */
export function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(textOf).filter((part) => part.length > 0).join('\n');
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    if (typeof record.content === 'string' || Array.isArray(record.content)) return textOf(record.content);
    if (typeof record.text === 'string') return record.text;
  }
  return '';
}
