import { getLogger } from '../../common/src/index.js';
import { LlmError, rateLimited, upstreamTimeout, upstreamUnavailable } from './openai-error.js';
import type { UpstreamConfig } from './upstream-config.js';

/** A successful upstream response, with the upstream that produced it after retries and fallback. */
export interface UpstreamResponse {
  upstream: string;
  response: Response;
  /** Attempts made over all upstreams, 1 when the first one succeeded. */
  attempts: number;
}

export interface UpstreamRequest {
  /** Path under the upstream's base URL, such as /chat/completions. */
  path: string;
  body: Record<string, unknown>;
  /** The client's signal: aborting it stops the upstream request at once, with no retry. */
  signal: AbortSignal;
  /** Called before each attempt, so a failed call still reports how many attempts it made. */
  onAttempt?(upstream: string): void;
}

/** Failure of one attempt, and whether another attempt may succeed. */
interface AttemptFailure {
  retryable: boolean;
  error: LlmError;
  /** What went wrong, for the summary when no upstream answers, such as `could not be reached`; no URL. */
  reason: string;
  /** Seconds the upstream asked to wait (Retry-After), if any. */
  retryAfterSeconds?: number;
}

/** Maximum wait taken from a Retry-After header, in milliseconds. */
const MAX_RETRY_AFTER_MS = 10_000;

/**
 * Sends OpenAI API requests to upstreams with a timeout per attempt, retries with exponential
 * backoff and jitter on 429, 5xx, timeouts and connection errors, and then the upstream's fallback.
 * It retries only until response headers arrive: nothing has reached the client by then, so a
 * retry can never repeat streamed output.
 */
export class UpstreamClient {
  private readonly log = getLogger('llm-upstream');

  constructor(
    private readonly upstreams: Map<string, UpstreamConfig>,
    private readonly env: NodeJS.ProcessEnv,
    private readonly random: () => number = Math.random,
  ) {}

  /**
   * Sends the request to `first`, then along its fallback chain, and returns the first 2xx
   * response. `bodyFor` rewrites the body per upstream (the model name differs between them).
   * Raises LlmError: 502 when no upstream responded, 504 on timeout, 429 when rate limited, or the
   * upstream's 4xx status with a generic message. When every upstream failed, the message names
   * each one tried, in order, with what went wrong.
   */
  async send(first: string, request: UpstreamRequest, bodyFor: (upstream: UpstreamConfig) => Record<string, unknown>): Promise<UpstreamResponse> {
    let attempts = 0;
    let lastError: LlmError = upstreamUnavailable('No upstream server is configured for this model.');
    const visited = new Set<string>();
    const tried: string[] = [];

    for (let name: string | undefined = first; name !== undefined && !visited.has(name); name = this.upstreams.get(name)?.fallback) {
      visited.add(name);
      const upstream = this.upstreams.get(name)!;
      const body = bodyFor(upstream);
      for (let attempt = 0; attempt <= upstream.retries; attempt++) {
        attempts++;
        request.onAttempt?.(name);
        const result = await this.attempt(upstream, request, body);
        if (result instanceof Response) return { upstream: name, response: result, attempts };

        lastError = result.error;
        if (request.signal.aborted) throw result.error;
        if (!result.retryable) throw result.error;
        if (attempt === upstream.retries) tried.push(`"${name}" ${result.reason}`);
        if (attempt < upstream.retries) {
          const delay = this.backoff(upstream, attempt, result.retryAfterSeconds);
          this.log.warn({ upstream: name, attempt: attempt + 1, status: result.error.status, delayMs: delay }, 'upstream attempt failed; retrying');
          await sleep(delay, request.signal);
        }
      }
      const fallback = upstream.fallback;
      if (fallback) this.log.warn({ upstream: name, fallback }, 'upstream failed after its retries; trying the fallback upstream');
    }
    if (tried.length === 0) throw lastError;
    throw new LlmError(
      lastError.status,
      lastError.type,
      lastError.code,
      `No upstream answered. Tried in order: ${tried.join('; ')}. Check these upstreams in the upstreams file (policies/llm/upstreams.yaml, or the file that WARDEN_LLM_UPSTREAMS_FILE names).`,
    );
  }

  private async attempt(upstream: UpstreamConfig, request: UpstreamRequest, body: Record<string, unknown>): Promise<Response | AttemptFailure> {
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), upstream.timeoutMs);
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: body.stream ? 'text/event-stream' : 'application/json' };
    const apiKey = upstream.apiKeyEnv ? this.env[upstream.apiKeyEnv] : undefined;
    if (apiKey) headers.authorization = `Bearer ${apiKey}`;

    try {
      const response = await fetch(`${upstream.baseUrl}${request.path}`, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
        signal: AbortSignal.any([request.signal, timeout.signal]),
      });
      if (response.ok) return response;
      // The error body may echo the prompt, so it is read only to free the connection.
      await response.body?.cancel().catch(() => undefined);
      return statusFailure(upstream, response);
    } catch (error) {
      if (request.signal.aborted) {
        return { retryable: false, error: new LlmError(499, 'request_aborted', 'client_closed_request', 'The client closed the request.'), reason: 'was abandoned' };
      }
      if (timeout.signal.aborted) {
        const reason = `did not respond within ${upstream.timeoutMs} ms`;
        return { retryable: true, error: upstreamTimeout(`The upstream "${upstream.name}" ${reason}.`), reason };
      }
      // The cause names the address that refused the connection, which is safe to log but not to return.
      this.log.warn({ upstream: upstream.name, err: { name: (error as Error).name, code: (error as { cause?: { code?: string } }).cause?.code } }, 'upstream connection failed');
      return { retryable: true, error: upstreamUnavailable(`The upstream "${upstream.name}" could not be reached.`), reason: 'could not be reached' };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Exponential backoff with up to 50 % jitter, or the upstream's Retry-After when longer. */
  private backoff(upstream: UpstreamConfig, attempt: number, retryAfterSeconds: number | undefined): number {
    const base = upstream.backoffMs * 2 ** attempt;
    const jittered = Math.round(base * (1 + this.random() * 0.5));
    if (retryAfterSeconds === undefined) return jittered;
    return Math.max(jittered, Math.min(retryAfterSeconds * 1000, MAX_RETRY_AFTER_MS));
  }
}

function statusFailure(upstream: UpstreamConfig, response: Response): AttemptFailure {
  const status = response.status;
  if (status === 429) {
    const retryAfter = Number(response.headers.get('retry-after'));
    return {
      retryable: true,
      error: rateLimited(`The upstream "${upstream.name}" is rate limiting requests. Retry later.`),
      reason: 'is rate limiting requests',
      retryAfterSeconds: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
    };
  }
  if (status >= 500) {
    return { retryable: true, error: upstreamUnavailable(`The upstream "${upstream.name}" failed with HTTP ${status}.`), reason: `failed with HTTP ${status}` };
  }
  const type = status === 401 || status === 403 ? 'upstream_error' : 'invalid_request_error';
  const reason = `rejected the request with HTTP ${status}`;
  return { retryable: false, error: new LlmError(status === 401 || status === 403 ? 502 : status, type, 'upstream_rejected', `The upstream "${upstream.name}" ${reason}.`), reason };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
