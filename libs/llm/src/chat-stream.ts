import { createHash } from 'node:crypto';
import { canonicalJson, getLogger } from '../../common/src/index.js';
import { reportedUsage, type CallFacts } from './call-record.js';
import { LlmError } from './openai-error.js';
import { CONTENT_FILTER, type ChoiceFilters } from './proxy-output.js';
import { readSseData, sseEvent } from './sse.js';

export interface StreamRelayOptions {
  response: Response;
  facts: CallFacts;
  /** Public model name written into every chunk in place of the upstream's name. */
  publicModel: string;
  includeUsage: boolean;
  /** Maximum wait for the next chunk, in milliseconds. */
  idleTimeoutMs: number;
  clientSignal: AbortSignal;
  /** Checks the deltas for personal data and forbidden topics, and restores placeholders for a caller allowed to see the original values. */
  filters?: ChoiceFilters;
  /** Aborts the upstream request. */
  abortUpstream(): void;
  /** Records the call once the stream has ended, however it ended. */
  finish(): Promise<void>;
}

const log = getLogger('llm-stream');

/**
 * Relays an upstream chat completion stream to the client as SSE events and fills in `facts`:
 * usage, the streamed completion text (for a local count), the digest of the chunks sent and the
 * outcome. A chunk that is not JSON is skipped and counted. An upstream error event, an idle
 * timeout or an early end closes the stream with an OpenAI-style error event. When the client
 * goes away (its signal aborts, or the consumer stops iterating), the upstream request is aborted
 * and the outcome is `aborted`.
 */
export async function* relayChatStream(options: StreamRelayOptions): AsyncGenerator<string> {
  const { facts } = options;
  const digest = createHash('sha256').update('[');
  let chunksSent = 0;
  let malformed = 0;
  let completionText = '';
  let finished = false;
  let timedOut = false;
  // Fields of the last chunk, copied into a chunk that releases text still held by the filters.
  let lastChunk: Record<string, unknown> = {};
  let idleTimer: NodeJS.Timeout | undefined;
  const armIdleTimer = () => {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => {
      timedOut = true;
      options.abortUpstream();
    }, options.idleTimeoutMs);
  };
  facts.outcome = 'aborted';
  let settled = false;
  // Completes the facts and records the call, once, however the stream ends.
  const settle = async () => {
    if (settled) return;
    settled = true;
    clearTimeout(idleTimer);
    facts.completionText = completionText;
    options.filters?.recordVerdicts();
    facts.responseDigest = digest.update(']').digest('hex');
    if (malformed > 0) log.warn({ malformed, chunksSent }, 'skipped upstream stream chunks that were not JSON objects');
    await options.finish();
  };

  const send = (chunk: Record<string, unknown>): string => {
    const text = canonicalJson(chunk);
    digest.update(chunksSent === 0 ? text : `,${text}`);
    chunksSent++;
    return sseEvent(text);
  };
  // A chunk with the text the filters still hold, so it goes out before the usage chunk and [DONE].
  const releaseHeld = (): Record<string, unknown> | undefined => {
    const held = options.filters?.flushAll() ?? [];
    if (held.length === 0) return undefined;
    const { id, created } = lastChunk;
    return {
      ...(id === undefined ? {} : { id }),
      object: 'chat.completion.chunk',
      ...(created === undefined ? {} : { created }),
      model: options.publicModel,
      choices: held.map(({ index, content, fields, blocked }) => ({ index, delta: { content, ...fields }, finish_reason: blocked ? CONTENT_FILTER : null })),
    };
  };

  try {
    armIdleTimer();
    let done = false;
    for await (const data of readSseData(options.response.body!)) {
      armIdleTimer();
      if (data.trim() === '[DONE]') {
        done = true;
        break;
      }
      let chunk: Record<string, unknown>;
      try {
        const parsed: unknown = JSON.parse(data);
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new TypeError('not an object');
        chunk = parsed as Record<string, unknown>;
      } catch {
        malformed++;
        continue;
      }
      if (chunk.error !== undefined) {
        throw new LlmError(502, 'upstream_error', 'upstream_stream_error', 'The upstream reported an error in the middle of the stream.');
      }

      const usage = reportedUsage(chunk);
      if (usage) facts.reported = usage;
      const choices = Array.isArray(chunk.choices) ? (chunk.choices as { delta?: { content?: unknown } }[]) : [];
      for (const choice of choices) {
        if (typeof choice?.delta?.content === 'string') completionText += choice.delta.content;
      }
      lastChunk = chunk;
      if (options.filters) {
        options.filters.filterChunk(chunk);
        if (choices.length === 0) {
          const heldChunk = releaseHeld();
          if (heldChunk) yield send(heldChunk);
        }
      }
      // Warden always requests the usage chunk (empty choices) upstream, but relays it only to clients that requested it.
      if (chunk.usage !== undefined && !options.includeUsage) {
        if (choices.length === 0) continue;
        delete chunk.usage;
      }
      if ('model' in chunk) chunk.model = options.publicModel;
      yield send(chunk);
    }

    if (!done) throw new LlmError(502, 'upstream_error', 'upstream_stream_incomplete', 'The upstream ended the stream before [DONE].');
    const heldChunk = releaseHeld();
    if (heldChunk) yield send(heldChunk);
    facts.outcome = 'ok';
    finished = true;
    // Recorded before [DONE], so a client that has read the whole stream finds the call in the ledger.
    await settle();
    yield sseEvent('[DONE]');
  } catch (error) {
    if (options.clientSignal.aborted) return;
    const failure =
      error instanceof LlmError
        ? error
        : timedOut
          ? new LlmError(504, 'upstream_error', 'upstream_timeout', `The upstream sent no chunk for ${options.idleTimeoutMs} ms.`)
          : new LlmError(502, 'upstream_error', 'upstream_stream_failed', 'The upstream connection failed in the middle of the stream.');
    facts.outcome = 'failed';
    facts.errorCode = failure.code;
    finished = true;
    // Text the filters still hold is dropped: a value cut off by the failure could not be recognized whole.
    options.filters?.recordVerdicts();
    log.warn({ code: failure.code, chunksSent }, 'upstream stream failed');
    await settle();
    yield sseEvent(JSON.stringify(failure.toBody()));
  } finally {
    if (!finished) options.abortUpstream();
    await settle();
  }
}
