import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { getLogger, requestContext, type RequestContext } from '../../../../libs/common/src/index.js';

const log = getLogger('http');
const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Gives every request an id (the caller's X-Request-Id when it is well formed), runs the rest of
 * the request inside that context so every log line carries it, and writes one access log line.
 */
export function requestContextMiddleware(request: Request, response: Response, next: NextFunction): void {
  const supplied = request.header('x-request-id');
  const context: RequestContext = { requestId: supplied && REQUEST_ID.test(supplied) ? supplied : randomUUID() };
  response.setHeader('x-request-id', context.requestId);
  const started = process.hrtime.bigint();

  response.on('finish', () => {
    const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
    requestContext.run(context, () => {
      log.info({ method: request.method, path: request.path, status: response.statusCode, durationMs }, 'request completed');
    });
  });
  requestContext.run(context, next);
}
