import { invalidRequest } from './openai-error.js';

/** The fields of a chat or embeddings request that Warden reads; the rest passes through unchanged. */
export interface ValidatedRequest {
  body: Record<string, unknown>;
  model: string;
  stream: boolean;
  /** Whether the client asked for the final usage chunk of a stream (stream_options.include_usage). */
  includeUsage: boolean;
}

/** Use case names: letters, digits, dot, underscore and hyphen, at most 64 characters. */
export const USE_CASE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Use case recorded for calls that name none. */
export const DEFAULT_USE_CASE = 'unspecified';

/** Validates a chat completions request. Raises a 400 LlmError naming the field. */
export function validateChatRequest(body: unknown): ValidatedRequest {
  const request = requireObject(body);
  const model = requireModel(request);
  const messages = request.messages;
  if (!Array.isArray(messages) || messages.length === 0) {
    throw invalidRequest('messages', 'messages must be a non-empty array of { role, content } objects.');
  }
  messages.forEach((message, index) => {
    if (typeof message !== 'object' || message === null || typeof (message as { role?: unknown }).role !== 'string') {
      throw invalidRequest(`messages[${index}]`, `messages[${index}] must be an object with a string role, such as { "role": "user", "content": "..." }.`);
    }
  });
  if (request.stream !== undefined && request.stream !== null && typeof request.stream !== 'boolean') {
    throw invalidRequest('stream', 'stream must be true or false.');
  }
  const options = request.stream_options;
  if (options !== undefined && options !== null) {
    if (typeof options !== 'object' || Array.isArray(options)) throw invalidRequest('stream_options', 'stream_options must be an object such as { "include_usage": true }.');
    const includeUsage = (options as { include_usage?: unknown }).include_usage;
    if (includeUsage !== undefined && typeof includeUsage !== 'boolean') throw invalidRequest('stream_options.include_usage', 'stream_options.include_usage must be true or false.');
  }
  const stream = request.stream === true;
  return { body: request, model, stream, includeUsage: stream && (options as { include_usage?: boolean } | undefined)?.include_usage === true };
}

/** Validates an embeddings request. Raises a 400 LlmError naming the field. */
export function validateEmbeddingsRequest(body: unknown): ValidatedRequest {
  const request = requireObject(body);
  const model = requireModel(request);
  const input = request.input;
  const valid =
    (typeof input === 'string' && input.length > 0) ||
    (Array.isArray(input) && input.length > 0 && input.every((item) => typeof item === 'string' || typeof item === 'number' || Array.isArray(item)));
  if (!valid) throw invalidRequest('input', 'input must be a non-empty string or array of strings (or token arrays).');
  return { body: request, model, stream: false, includeUsage: false };
}

function requireObject(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalidRequest('body', 'The request body must be a JSON object. Send Content-Type: application/json.');
  }
  return body as Record<string, unknown>;
}

function requireModel(request: Record<string, unknown>): string {
  if (typeof request.model !== 'string' || request.model.length === 0 || request.model.length > 256) {
    throw invalidRequest('model', 'model must be the name of a model listed by GET /v1/models.');
  }
  return request.model;
}
