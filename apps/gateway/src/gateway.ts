import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { getLogger } from '../../../libs/common/src/index.js';
import type { WardenRuntime } from '../../../libs/decisions/src/index.js';
import { AppModule } from './app.module.js';
import { requestContextMiddleware } from './http/request-context.middleware.js';
import { NestPinoLogger } from './nest-logger.js';

export interface RunningGateway {
  url: string;
  graphqlUrl: string;
  close(): Promise<void>;
}

/** Largest accepted request body: 10,000 ingested records fit with room to spare; larger files go through the CLI. */
const BODY_LIMIT = '10mb';

/** Starts the HTTP gateway on the runtime's configured host and port (port 0 picks a free one). */
export async function startGateway(runtime: WardenRuntime, port = runtime.config.port): Promise<RunningGateway> {
  const log = getLogger('gateway');
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRuntime(runtime), {
    logger: new NestPinoLogger(),
    bodyParser: false,
  });
  app.use(requestContextMiddleware);
  app.useBodyParser('json', { limit: BODY_LIMIT, type: ['application/json', 'application/graphql-response+json'] });
  app.disable('x-powered-by');

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
