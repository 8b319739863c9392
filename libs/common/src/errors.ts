/**
 * Typed domain errors. Each carries a stable code that the gateway maps once to GraphQL
 * `extensions.code`; the message is safe to show a caller (no SQL, stack or internals).
 */
export type WardenErrorCode =
  | 'BAD_USER_INPUT'
  | 'NOT_FOUND'
  | 'FORBIDDEN'
  | 'UNAUTHENTICATED'
  | 'CONFLICT'
  | 'FAILED_PRECONDITION'
  | 'USE_CASE_SUSPENDED'
  | 'GUARDRAIL_BLOCKED'
  | 'UPSTREAM_UNAVAILABLE'
  | 'DATABASE_UNAVAILABLE'
  | 'INTERNAL';

/** One problem with one input field, named by a JSON Pointer style path such as `/duration_months`. */
export interface FieldError {
  field: string;
  message: string;
}

export class WardenError extends Error {
  constructor(
    readonly code: WardenErrorCode,
    message: string,
    readonly fieldErrors: FieldError[] = [],
  ) {
    super(message);
    this.name = 'WardenError';
  }
}

export class BadUserInputError extends WardenError {
  constructor(message: string, fieldErrors: FieldError[] = []) {
    super('BAD_USER_INPUT', message, fieldErrors);
  }
}

export class NotFoundError extends WardenError {
  constructor(message: string) {
    super('NOT_FOUND', message);
  }
}

export class ForbiddenError extends WardenError {
  constructor(message = 'The caller is not permitted to perform this action.') {
    super('FORBIDDEN', message);
  }
}

export class UnauthenticatedError extends WardenError {
  constructor(message = 'A valid bearer token is required.') {
    super('UNAUTHENTICATED', message);
  }
}

export class ConflictError extends WardenError {
  constructor(message: string) {
    super('CONFLICT', message);
  }
}

export class FailedPreconditionError extends WardenError {
  constructor(message: string) {
    super('FAILED_PRECONDITION', message);
  }
}

/** A person has stopped the use case; requests are refused until someone resumes it. */
export class UseCaseSuspendedError extends WardenError {
  constructor(message: string) {
    super('USE_CASE_SUSPENDED', message);
  }
}

/** A guardrail refused the request; nothing was sent to a model and the verdict is in the ledger. */
export class GuardrailBlockedError extends WardenError {
  constructor(message: string) {
    super('GUARDRAIL_BLOCKED', message);
  }
}

/** A model server that Warden calls did not answer usably; the caller may retry later. */
export class UpstreamUnavailableError extends WardenError {
  constructor(message: string) {
    super('UPSTREAM_UNAVAILABLE', message);
  }
}

/** No database connection became free, or none could be opened, in time; the caller may retry later. */
export class DatabaseUnavailableError extends WardenError {
  constructor(message: string) {
    super('DATABASE_UNAVAILABLE', message);
  }
}

export function isWardenError(error: unknown): error is WardenError {
  return error instanceof WardenError;
}
