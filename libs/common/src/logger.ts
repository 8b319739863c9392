import { AsyncLocalStorage } from 'node:async_hooks';
import { pino, type Logger } from 'pino';

/** Request-scoped fields that every log line written during a request carries. */
export interface RequestContext {
  requestId: string;
  tenant?: string;
  actor?: string;
  traceId?: string;
}

export const requestContext = new AsyncLocalStorage<RequestContext>();

/**
 * Paths that are never written to a log, at any depth we know of. Applicant data never enters a
 * log call in Warden's own code; this list is the second line of defence for headers and secrets.
 */
const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  'token',
  'password',
  'secret',
  'privateKey',
  '*.token',
  '*.password',
  '*.secret',
  '*.privateKey',
  'application',
  '*.application',
  'records',
  '*.records',
];

/** Maximum length of a logged error message, in characters, because driver messages can quote input values. */
const MAX_ERROR_MESSAGE = 300;

/** Replaces personal data in a text, such as IBANs and card numbers; installed by the guardrails library. */
export type LogScrubber = (text: string) => string;

let scrubber: LogScrubber = (text) => text;

/**
 * Installs the function that removes personal data from log messages, error messages and string
 * fields before they are written. The common library cannot depend on the guardrails library,
 * so the runtime installs it at start.
 */
export function setLogScrubber(scrub: LogScrubber): void {
  scrubber = scrub;
}

/** Applies the installed scrubber to a text that leaves the process, such as an error message for a caller. */
export function scrubText(text: string): string {
  return scrubber(text);
}

/** Scrubs the string values of a log object, one level deep, where free text such as messages ends up. */
function scrubFields(object: Record<string, unknown>): Record<string, unknown> {
  const scrubbed: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(object)) scrubbed[key] = typeof value === 'string' ? scrubber(value) : value;
  return scrubbed;
}

/**
 * Serializes a caught error for the log without what drivers attach to it: TypeORM's
 * QueryFailedError carries the SQL text and its parameters (applicant data) and PostgreSQL errors
 * carry a `detail` that quotes row values. Only the class, code, a bounded message and the stack
 * frames are kept.
 */
export function serializeError(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { type: typeof error };
  const withCode = error as Error & { code?: unknown };
  const frames = (error.stack ?? '').split('\n').filter((line) => line.trimStart().startsWith('at '));
  return {
    type: error.name,
    code: typeof withCode.code === 'string' ? withCode.code : undefined,
    message: scrubber(error.message.length > MAX_ERROR_MESSAGE ? `${error.message.slice(0, MAX_ERROR_MESSAGE)}...` : error.message),
    stack: frames.join('\n'),
  };
}

let rootLogger: Logger | undefined;

/** Creates the process-wide JSON logger. Later calls return the first one. */
export function createRootLogger(level: string = process.env.LOG_LEVEL ?? 'info', destination?: NodeJS.WritableStream): Logger {
  if (rootLogger) return rootLogger;
  rootLogger = pino(
    {
      level,
      base: { service: 'warden' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: '[REDACTED]' },
      serializers: { err: serializeError, error: serializeError },
      formatters: { log: scrubFields },
      hooks: {
        // The message argument is not part of the log object, so it is scrubbed here.
        logMethod(args, method) {
          const scrubbedArgs = args.map((arg) => (typeof arg === 'string' ? scrubber(arg) : arg)) as typeof args;
          method.apply(this, scrubbedArgs);
        },
      },
      mixin() {
        const context = requestContext.getStore();
        return context ? { requestId: context.requestId, tenant: context.tenant, actor: context.actor } : {};
      },
    },
    destination ?? pino.destination({ dest: 2, sync: false }),
  );
  return rootLogger;
}

/** Returns a child logger named after a component, such as `ledger` or `gateway`. */
export function getLogger(component: string): Logger {
  return createRootLogger().child({ component });
}
