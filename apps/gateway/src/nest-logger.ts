import type { LoggerService } from '@nestjs/common';
import { getLogger } from '../../../libs/common/src/index.js';

/** Sends Nest's own log lines (bootstrap, errors) to Warden's JSON logger instead of the console. */
export class NestPinoLogger implements LoggerService {
  private readonly pino = getLogger('nest');

  private write(level: 'info' | 'warn' | 'error' | 'debug' | 'trace', message: unknown, context: unknown): void {
    this.pino[level]({ nestContext: typeof context === 'string' ? context : undefined }, String(message));
  }

  /** Nest's routine bootstrap lines (routes mapped, modules loaded) go to debug. */
  log(message: unknown, context?: unknown): void {
    this.write('debug', message, context);
  }

  error(message: unknown, _trace?: unknown, context?: unknown): void {
    // The trace is dropped on purpose: stack traces stay out of logs that operators forward.
    this.write('error', message, context);
  }

  warn(message: unknown, context?: unknown): void {
    this.write('warn', message, context);
  }

  debug(message: unknown, context?: unknown): void {
    this.write('debug', message, context);
  }

  verbose(message: unknown, context?: unknown): void {
    this.write('trace', message, context);
  }
}
