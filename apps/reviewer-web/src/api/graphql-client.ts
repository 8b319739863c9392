// A minimal GraphQL-over-HTTP client: one JSON POST per operation, bearer token in the header.

const GRAPHQL_PATH = '/graphql';

export interface FieldError {
  field: string;
  message: string;
}

/**
 * An operation that failed. `code` is the first error's `extensions.code` from the gateway, or
 * NETWORK_ERROR / BAD_RESPONSE when no GraphQL response arrived. `message` is fit to show as is.
 */
export class GraphqlRequestError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly fieldErrors: FieldError[] = [],
  ) {
    super(message);
    this.name = 'GraphqlRequestError';
  }
}

interface GraphqlResponseError {
  message?: unknown;
  extensions?: { code?: unknown; fieldErrors?: unknown };
}

interface GraphqlResponse<TData> {
  data?: TData | null;
  errors?: GraphqlResponseError[];
}

/** Sends one operation and returns its `data`, or throws GraphqlRequestError. */
export async function postGraphql<TData>(
  token: string,
  query: string,
  variables: Record<string, unknown> = {},
  signal?: AbortSignal,
): Promise<TData> {
  let response: Response;
  try {
    response = await fetch(GRAPHQL_PATH, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Accept: 'application/graphql-response+json, application/json',
        Authorization: `Bearer ${token}`,
      },
      body: JSON.stringify({ query, variables }),
      signal,
    });
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new GraphqlRequestError(`Could not reach the gateway at ${GRAPHQL_PATH}. Check that it is running, then retry.`, 'NETWORK_ERROR');
  }

  const body = await readJsonBody<TData>(response, signal);
  if (body.errors && body.errors.length > 0) throw toRequestError(body.errors);
  if (body.data == null) {
    throw new GraphqlRequestError(`The gateway returned HTTP ${response.status} without data or errors.`, 'BAD_RESPONSE');
  }
  return body.data;
}

async function readJsonBody<TData>(response: Response, signal: AbortSignal | undefined): Promise<GraphqlResponse<TData>> {
  // Error responses (401, 400) still carry a GraphQL body, so the status alone decides nothing.
  try {
    return (await response.json()) as GraphqlResponse<TData>;
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new GraphqlRequestError(`The gateway returned HTTP ${response.status} without a GraphQL response.`, 'BAD_RESPONSE');
  }
}

function toRequestError(errors: GraphqlResponseError[]): GraphqlRequestError {
  const messages = errors.map((error) => (typeof error.message === 'string' ? error.message : 'Unknown error.'));
  const first = errors[0]?.extensions;
  const code = typeof first?.code === 'string' ? first.code : 'UNKNOWN';
  const fieldErrors = Array.isArray(first?.fieldErrors) ? first.fieldErrors.filter(isFieldError) : [];
  return new GraphqlRequestError([...new Set(messages)].join(' '), code, fieldErrors);
}

function isFieldError(value: unknown): value is FieldError {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return typeof candidate.field === 'string' && typeof candidate.message === 'string';
}

/** Returns the text to show for any error thrown by an operation. */
export function describeError(error: unknown): string {
  if (error instanceof GraphqlRequestError) {
    const details = error.fieldErrors.map((fieldError) => `${fieldError.field}: ${fieldError.message}`);
    return [error.message, ...details].join(' ');
  }
  if (error instanceof Error) return error.message;
  return 'Unknown error.';
}

export function isAbortError(error: unknown): boolean {
  return error instanceof DOMException && error.name === 'AbortError';
}
