import { once } from 'node:events';
import { Controller, Get, Inject, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { getLogger, requestContext } from '../../../../libs/common/src/index.js';
import type { WardenRuntime } from '../../../../libs/decisions/src/index.js';
import { LlmError, type LlmPath, type LlmResponse } from '../../../../libs/llm/src/index.js';
import { Public } from '../auth/requires.decorator.js';
import { WARDEN_RUNTIME } from '../runtime.token.js';
import { authenticateProxyCaller, isLlmError } from './proxy-auth.js';

/**
 * The OpenAI-compatible proxy: POST /v1/chat/completions (JSON or SSE), POST /v1/embeddings and
 * GET /v1/models, as a thin adapter over runtime.llm. The routes are @Public for the global
 * policy guard, which knows bearer tokens only: they authenticate API keys and tokens themselves,
 * and runtime.llm checks `llm invoke` and the model-level policy on every call.
 */
@Controller('v1')
export class ProxyController {
  private readonly log = getLogger('llm-proxy');

  constructor(@Inject(WARDEN_RUNTIME) private readonly runtime: WardenRuntime) {}

  @Public()
  @Post('chat/completions')
  async chatCompletions(@Req() request: Request, @Res() response: Response): Promise<void> {
    await this.serve('/v1/chat/completions', request, response);
  }

  @Public()
  @Post('embeddings')
  async embeddings(@Req() request: Request, @Res() response: Response): Promise<void> {
    await this.serve('/v1/embeddings', request, response);
  }

  @Public()
  @Get('models')
  async models(@Req() request: Request, @Res() response: Response): Promise<void> {
    await this.serve('/v1/models', request, response);
  }

  private async serve(path: LlmPath, request: Request, response: Response): Promise<void> {
    // A client that disconnects before the response ends aborts the upstream request.
    const abort = new AbortController();
    response.on('close', () => {
      if (!response.writableFinished) abort.abort();
    });

    try {
      const principal = await authenticateProxyCaller(this.runtime, request);
      const result = await this.runtime.llm.handle(principal, {
        path,
        body: request.body,
        useCase: request.header('x-warden-use-case') ?? undefined,
        signal: abort.signal,
        requestId: requestContext.getStore()?.requestId,
      });
      await this.send(result, response, abort.signal);
    } catch (error) {
      let failure: LlmError;
      const unavailable = this.runtime.database.poolWaitTimeout(error);
      if (isLlmError(error)) {
        failure = error;
      } else if (unavailable) {
        failure = new LlmError(503, 'server_error', 'database_unavailable', unavailable.message);
      } else {
        this.log.error({ err: error, path }, 'proxy request failed');
        failure = new LlmError(500, 'server_error', 'internal_error', 'The call failed inside Warden.');
      }
      if (!response.headersSent) response.status(failure.status).json(failure.toBody());
      else response.end();
    }
  }

  private async send(result: LlmResponse, response: Response, signal: AbortSignal): Promise<void> {
    if (result.kind === 'json') {
      response.status(result.status).json(result.body);
      return;
    }

    response.status(200);
    response.setHeader('content-type', 'text/event-stream; charset=utf-8');
    response.setHeader('cache-control', 'no-cache');
    response.setHeader('x-accel-buffering', 'no');
    response.flushHeaders();
    for await (const event of result.events) {
      if (signal.aborted) continue;
      // Waits when the socket buffer is full, and stops waiting when the client goes away.
      if (!response.write(event)) await Promise.race([once(response, 'drain'), once(response, 'close')]);
    }
    response.end();
  }
}
