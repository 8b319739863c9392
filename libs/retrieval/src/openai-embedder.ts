import OpenAI from 'openai';
import { FailedPreconditionError, getLogger } from '../../common/src/index.js';
import type { Embedder } from './embedder.js';
import { normalizeL2 } from './embedder.js';

export const OPENAI_PROVIDER = 'openai';
/** Texts per request; OpenAI accepts up to 2048 inputs, and smaller servers (TEI) often fewer. */
const BATCH_SIZE = 64;

export interface OpenAiEmbedderOptions {
  /** Base URL of the OpenAI-compatible server, such as http://127.0.0.1:8080/v1. */
  baseUrl: string;
  apiKey: string | undefined;
  model: string;
  /** Expected dimension; when unset, the first response decides it. */
  dimension?: number;
  timeoutMs?: number;
}

/**
 * Embeddings from an OpenAI-compatible `/v1/embeddings` endpoint (OpenAI, vLLM, TEI, Ollama)
 * through the `openai` client. Vectors are L2-normalized here because not every server
 * normalizes them.
 */
export class OpenAiEmbedder implements Embedder {
  readonly provider = OPENAI_PROVIDER;
  private readonly log = getLogger('openai-embedder');

  private constructor(
    private readonly client: OpenAI,
    readonly model: string,
    readonly dimension: number,
    private readonly baseUrl: string,
  ) {}

  /** Connects and, when no dimension is configured, embeds one probe text to learn it. */
  static async create(options: OpenAiEmbedderOptions): Promise<OpenAiEmbedder> {
    const client = new OpenAI({ baseURL: options.baseUrl, apiKey: options.apiKey ?? 'unused', timeout: options.timeoutMs ?? 30_000, maxRetries: 2 });
    if (options.dimension !== undefined) return new OpenAiEmbedder(client, options.model, options.dimension, options.baseUrl);
    const probe = new OpenAiEmbedder(client, options.model, 0, options.baseUrl);
    const [vector] = await probe.request(['dimension probe']);
    return new OpenAiEmbedder(client, options.model, vector.length, options.baseUrl);
  }

  async embed(texts: readonly string[]): Promise<number[][]> {
    const vectors: number[][] = [];
    for (let start = 0; start < texts.length; start += BATCH_SIZE) {
      const batch = await this.request(texts.slice(start, start + BATCH_SIZE));
      for (const vector of batch) {
        if (this.dimension !== 0 && vector.length !== this.dimension) {
          throw new FailedPreconditionError(
            `The embedding server returned ${vector.length} dimensions for model ${this.model}, but ${this.dimension} are configured. Set WARDEN_EMBEDDING_DIMENSION to ${vector.length} or unset it.`,
          );
        }
      }
      vectors.push(...batch);
    }
    return vectors;
  }

  private async request(texts: readonly string[]): Promise<number[][]> {
    let response: OpenAI.Embeddings.CreateEmbeddingResponse;
    try {
      response = await this.client.embeddings.create({ model: this.model, input: [...texts], encoding_format: 'float' });
    } catch (error) {
      // The server's message may echo input text, so only the status goes into the error.
      const status = (error as { status?: number }).status;
      this.log.error({ status, baseUrl: this.baseUrl, model: this.model }, 'embedding request failed');
      throw new FailedPreconditionError(
        `The embedding server at ${this.baseUrl} failed for model ${this.model}${status ? ` with HTTP ${status}` : ''}. Check WARDEN_EMBEDDING_URL, WARDEN_EMBEDDING_MODEL and WARDEN_EMBEDDING_API_KEY.`,
      );
    }
    const ordered = [...response.data].sort((a, b) => a.index - b.index);
    if (ordered.length !== texts.length) {
      throw new FailedPreconditionError(`The embedding server returned ${ordered.length} vectors for ${texts.length} texts.`);
    }
    return ordered.map((entry) => normalizeL2([...(entry.embedding as number[])]));
  }
}
