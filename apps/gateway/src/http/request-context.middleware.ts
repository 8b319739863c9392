import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { getLogger, requestContext, type RequestContext } from '../../../../libs/common/src/index.js';
import { scanPiiAcrossUnderscores } from '../../../../libs/guardrails/src/index.js';

const log = getLogger('http');
const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Returns the caller's X-Request-Id when it can be kept, or undefined. The id is written in clear
 * into ledger entries (access denials, proxy calls), which can be neither changed nor erased. So an
 * id that contains personal data, such as an IBAN or a card number, is replaced like a malformed one.
 * NOTE: a bare phone or account number without a country code passes, as document names do.
 */
function acceptedRequestId(supplied: string | undefined): string | undefined {
  if (!supplied || !REQUEST_ID.test(supplied)) return undefined;
  // Underscores are read as spaces, so a card number or IBAN joined by them (txn_4111111111111111) is
  // found. Dates and counters (20261205-0001) do not count as phone or account numbers there.
  if (scanPiiAcrossUnderscores(supplied).length > 0) return undefined;
  return supplied;
}

/**
 * Gives every request an id (the caller's X-Request-Id when it is well formed and contains no
 * personal data), runs the rest of the request inside that context so every log line carries it,
 * and writes one access log line.
 */
export function requestContextMiddleware(request: Request, response: Response, next: NextFunction): void {
  const context: RequestContext = { requestId: acceptedRequestId(request.header('x-request-id')) ?? randomUUID() };
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
