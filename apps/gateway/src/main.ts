#!/usr/bin/env node
// Entry point of the gateway alone (`node dist/apps/gateway/src/main.js`), for deployments that
// run the gateway without the warden command. It starts what `warden start` starts, without the
// demo setup: the runtime, the HTTP gateway, the checkpoint schedule and webhook delivery.
import 'reflect-metadata';
import { ConfigError, createRootLogger, getLogger, loadConfig, type WardenConfig } from '../../../libs/common/src/index.js';

let config: WardenConfig;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(2);
}
createRootLogger(config.logLevel);
const log = getLogger('gateway-main');

// Loaded only now: some modules create their logger while they load, and the root logger must
// exist with the validated level first.
const { createRuntime } = await import('../../../libs/decisions/src/index.js');
const { startGateway } = await import('./gateway.js');

const runtime = await createRuntime(config);
const gateway = await startGateway(runtime);
runtime.checkpointScheduler.start();
runtime.chainVerificationScheduler.start();
runtime.webhookDispatcher.start();

const stop = async (signal: string) => {
  log.info({ signal }, 'stopping Warden');
  await runtime.checkpointScheduler.stop();
  await runtime.chainVerificationScheduler.stop();
  await gateway.close();
  await runtime.close();
  process.exit(0);
};
process.once('SIGINT', () => void stop('SIGINT'));
process.once('SIGTERM', () => void stop('SIGTERM'));
