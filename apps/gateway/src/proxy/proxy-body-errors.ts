import type { NextFunction, Request, Response } from 'express';
import { invalidRequest, LlmError } from '../../../../libs/llm/src/index.js';

/**
 * Express error handler for /v1. It rejects a body that the JSON parser could not read (malformed
 * JSON, or larger than the body limit) with an OpenAI-format error, which the OpenAI clients parse,
 * instead of Nest's format. Other errors pass on.
 */
export function proxyBodyErrors(error: unknown, _request: Request, response: Response, next: NextFunction): void {
  const parserError = error as { type?: string; status?: number };
  if (parserError.type === 'entity.parse.failed') {
    response.status(400).json(invalidRequest('body', 'The request body is not valid JSON.').toBody());
    return;
  }
  if (parserError.type === 'entity.too.large') {
    response.status(413).json(new LlmError(413, 'invalid_request_error', 'request_too_large', 'The request body is larger than 10 MB.', 'body').toBody());
    return;
  }
  next(error);
}
