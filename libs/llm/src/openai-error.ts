/**
 * Errors in the OpenAI API format, `{ error: { message, type, param, code } }`, so the official
 * clients raise their usual exception classes (BadRequestError, NotFoundError, RateLimitError...).
 * Messages are safe to show a caller: no stack, no upstream URL, no prompt text and no personal data.
 */
import { scrubPii } from '../../guardrails/src/index.js';

export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export class LlmError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly code: string | null,
    message: string,
    readonly param: string | null = null,
  ) {
    // Messages may quote a caller's value, such as an unknown model name, so personal data in them is masked.
    super(scrubPii(message));
    this.name = 'LlmError';
  }

  toBody(): OpenAiErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export function invalidRequest(param: string, message: string): LlmError {
  return new LlmError(400, 'invalid_request_error', 'invalid_value', message, param);
}

export function unauthenticated(message: string): LlmError {
  return new LlmError(401, 'authentication_error', 'invalid_api_key', message);
}

export function permissionDenied(message: string): LlmError {
  return new LlmError(403, 'permission_error', 'model_not_permitted', message);
}

export function modelNotFound(model: string): LlmError {
  return new LlmError(404, 'invalid_request_error', 'model_not_found', `The model "${model}" does not exist or is not configured in Warden. List the models with GET /v1/models.`, 'model');
}

export function rateLimited(message: string): LlmError {
  return new LlmError(429, 'rate_limit_error', 'rate_limit_exceeded', message);
}

export function upstreamUnavailable(message: string): LlmError {
  return new LlmError(502, 'upstream_error', 'upstream_unavailable', message);
}

export function upstreamTimeout(message: string): LlmError {
  return new LlmError(504, 'upstream_error', 'upstream_timeout', message);
}
