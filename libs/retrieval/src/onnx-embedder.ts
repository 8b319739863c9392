import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import ort from 'onnxruntime-node';
import { FailedPreconditionError } from '../../common/src/index.js';
import type { Embedder } from './embedder.js';
import { normalizeL2 } from './embedder.js';

export const ONNX_PROVIDER = 'onnx';
/** Tokens per text fed to the model; longer texts are cut, as sentence-transformers does at its max_seq_length. */
export const DEFAULT_ONNX_MAX_TOKENS = 256;
/** Texts per inference call. */
const BATCH_SIZE = 16;

/**
 * A local sentence-embedding model: `model.onnx` and `tokenizer.json` (Hugging Face tokenizers
 * format, plus `tokenizer_config.json` when present) in one folder, run on CPU with
 * onnxruntime-node. The model takes `input_ids` and `attention_mask` (and `token_type_ids` when
 * it declares it) as int64 [batch, tokens]. A 3-D first output [batch, tokens, hidden] is
 * mean-pooled over the attention mask; a 2-D one [batch, hidden] is taken as already pooled.
 * Both are L2-normalized.
 */
export class OnnxEmbedder implements Embedder {
  readonly provider = ONNX_PROVIDER;

  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly tokenizer: Tokenizer,
    readonly model: string,
    readonly dimension: number,
    private readonly maxTokens: number,
    private readonly padId: number,
  ) {}

  /** Loads the model folder and probes the output size. Raises FailedPreconditionError naming the missing file. */
  static async load(folder: string, options: { model?: string; maxTokens?: number } = {}): Promise<OnnxEmbedder> {
    const modelFile = join(folder, 'model.onnx');
    const tokenizerFile = join(folder, 'tokenizer.json');
    for (const file of [modelFile, tokenizerFile]) {
      if (!existsSync(file)) {
        throw new FailedPreconditionError(
          `The ONNX embedding model folder ${folder} has no ${basename(file)}. Set WARDEN_EMBEDDING_MODEL_DIR to a folder with model.onnx and tokenizer.json.`,
        );
      }
    }
    const configFile = join(folder, 'tokenizer_config.json');
    const tokenizerJson = JSON.parse(readFileSync(tokenizerFile, 'utf8')) as Record<string, unknown>;
    const tokenizerConfig = existsSync(configFile) ? (JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>) : {};
    const tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
    const session = await ort.InferenceSession.create(modelFile);
    if (!session.inputNames.includes('input_ids')) {
      throw new FailedPreconditionError(
        `The ONNX model in ${folder} has no input_ids input (inputs: ${session.inputNames.join(', ')}). Export a sentence-embedding model with input_ids and attention_mask.`,
      );
    }

    const padId = padTokenId(tokenizerJson);
    const maxTokens = options.maxTokens ?? DEFAULT_ONNX_MAX_TOKENS;
    const probe = new OnnxEmbedder(session, tokenizer, options.model ?? basename(folder), 0, maxTokens, padId);
    const [vector] = await probe.embed(['dimension probe']);
    return new OnnxEmbedder(session, tokenizer, probe.model, vector.length, maxTokens, padId);
  }

  async embed(texts: readonly string[]): Promise<number[][]> {
    const vectors: number[][] = [];
    for (let start = 0; start < texts.length; start += BATCH_SIZE) {
      vectors.push(...(await this.embedBatch(texts.slice(start, start + BATCH_SIZE))));
    }
    return vectors;
  }

  private async embedBatch(texts: readonly string[]): Promise<number[][]> {
    const encodings = texts.map((text) => {
      const encoding = this.tokenizer.encode(text);
      const ids: number[] = encoding.ids.slice(0, this.maxTokens);
      if (ids.some((id) => !Number.isInteger(id))) {
        throw new FailedPreconditionError(`The tokenizer of embedding model ${this.model} returned a token without an id; check that its vocabulary has an unknown token.`);
      }
      const mask: number[] = encoding.attention_mask.slice(0, this.maxTokens);
      return { ids, mask };
    });
    const width = Math.max(1, ...encodings.map((encoding) => encoding.ids.length));
    const ids = new BigInt64Array(texts.length * width).fill(BigInt(this.padId));
    const mask = new BigInt64Array(texts.length * width);
    encodings.forEach((encoding, row) => {
      encoding.ids.forEach((id, column) => {
        ids[row * width + column] = BigInt(id);
        mask[row * width + column] = BigInt(encoding.mask[column] ?? 1);
      });
    });

    const shape = [texts.length, width];
    const feeds: Record<string, ort.Tensor> = { input_ids: new ort.Tensor('int64', ids, shape) };
    if (this.session.inputNames.includes('attention_mask')) feeds.attention_mask = new ort.Tensor('int64', mask, shape);
    if (this.session.inputNames.includes('token_type_ids')) feeds.token_type_ids = new ort.Tensor('int64', new BigInt64Array(ids.length), shape);
    const results = await this.session.run(feeds);
    const output = results[this.session.outputNames[0]];
    return poolOutput(output, mask, texts.length, width);
  }
}

/** Mean-pools a [batch, tokens, hidden] output over the attention mask, or takes [batch, hidden] as is; then L2-normalizes. */
function poolOutput(output: ort.Tensor, mask: BigInt64Array, batch: number, width: number): number[][] {
  const data = output.data as Float32Array;
  const dims = output.dims;
  if (dims.length === 2) {
    const hidden = dims[1];
    return Array.from({ length: batch }, (_, row) => normalizeL2(Array.from(data.subarray(row * hidden, (row + 1) * hidden))));
  }
  if (dims.length !== 3 || dims[1] !== width) {
    throw new FailedPreconditionError(`The ONNX embedding model's first output has shape [${dims.join(', ')}]; expected [batch, tokens, hidden] or [batch, hidden].`);
  }
  const hidden = dims[2];
  const vectors: number[][] = [];
  for (let row = 0; row < batch; row += 1) {
    const sum = new Array<number>(hidden).fill(0);
    let count = 0;
    for (let token = 0; token < width; token += 1) {
      if (mask[row * width + token] === 0n) continue;
      count += 1;
      const offset = (row * width + token) * hidden;
      for (let index = 0; index < hidden; index += 1) sum[index] += data[offset + index];
    }
    vectors.push(normalizeL2(sum.map((value) => (count === 0 ? 0 : value / count))));
  }
  return vectors;
}

/** Returns the id of the tokenizer's padding token ([PAD] or <pad>), or 0. */
function padTokenId(tokenizerJson: Record<string, unknown>): number {
  const padding = tokenizerJson.padding as { pad_id?: number } | null | undefined;
  if (typeof padding?.pad_id === 'number') return padding.pad_id;
  const added = (tokenizerJson.added_tokens as Array<{ id: number; content: string }> | undefined) ?? [];
  return added.find((token) => token.content === '[PAD]' || token.content === '<pad>')?.id ?? 0;
}
