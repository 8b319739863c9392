import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { NestFactory } from '@nestjs/core';
import type { NextFunction, Request, Response } from 'express';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { getLogger } from '../../../libs/common/src/index.js';
import type { WardenRuntime } from '../../../libs/decisions/src/index.js';
import { AppModule } from './app.module.js';
import { requestContextMiddleware } from './http/request-context.middleware.js';
import { NestPinoLogger } from './nest-logger.js';
import { proxyBodyErrors } from './proxy/proxy-body-errors.js';

export interface RunningGateway {
  url: string;
  graphqlUrl: string;
  close(): Promise<void>;
}

/** Largest accepted request body: 10,000 ingested records fit with room to spare; larger files go through the CLI. */
const BODY_LIMIT = '10mb';

/** The reviewer web app as `npm run build` writes it: dist/reviewer-web beside dist/apps. */
const REVIEWER_WEB_DIR = resolve(import.meta.dirname, '..', '..', '..', 'reviewer-web');

/**
 * Headers of the reviewer web app: scripts, styles and requests only from this origin, no
 * framing, and no caching of index.html so a new build reaches reviewers at once.
 */
function reviewerWebHeaders(request: Request, response: Response, next: NextFunction): void {
  response.setHeader(
    'Content-Security-Policy',
    "default-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  );
  response.setHeader('X-Content-Type-Options', 'nosniff');
  response.setHeader('Referrer-Policy', 'no-referrer');
  if (request.path === '/' || request.path.endsWith('.html')) response.setHeader('Cache-Control', 'no-store');
  next();
}

/** Starts the HTTP gateway on the runtime's configured host and port (port 0 picks a free one). */
export async function startGateway(runtime: WardenRuntime, port = runtime.config.port): Promise<RunningGateway> {
  const log = getLogger('gateway');
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRuntime(runtime), {
    logger: new NestPinoLogger(),
    bodyParser: false,
  });
  app.use(requestContextMiddleware);
  app.useBodyParser('json', { limit: BODY_LIMIT, type: ['application/json', 'application/graphql-response+json'] });
  app.use('/v1', proxyBodyErrors);
  app.disable('x-powered-by');
  if (existsSync(REVIEWER_WEB_DIR)) {
    app.use('/review', reviewerWebHeaders);
    app.useStaticAssets(REVIEWER_WEB_DIR, { prefix: '/review/', index: 'index.html', redirect: true });
  } else {
    log.warn({ folder: REVIEWER_WEB_DIR }, 'reviewer web app not built; run npm run build to serve it at /review/');
  }

  await app.listen(port, runtime.config.host);
  const address = app.getHttpServer().address() as { port: number };
  const url = `http://${runtime.config.host}:${address.port}`;
  log.info({ url, database: runtime.database.mode }, 'gateway listening');

  return {
    url,
    graphqlUrl: `${url}/graphql`,
    async close() {
      await app.close();
      log.info('gateway stopped');
    },
  };
}
