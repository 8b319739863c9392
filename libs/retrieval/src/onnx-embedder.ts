import type ort from 'onnxruntime-node';
import { FailedPreconditionError } from '../../common/src/index.js';
import { OnnxTextModel } from '../../models/src/index.js';
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
    private readonly textModel: OnnxTextModel,
    readonly model: string,
    readonly dimension: number,
  ) {}

  /** Loads the model folder and probes the output size. Raises FailedPreconditionError naming the missing file. */
  static async load(folder: string, options: { model?: string; maxTokens?: number } = {}): Promise<OnnxEmbedder> {
    const textModel = await OnnxTextModel.load(folder, {
      name: options.model,
      maxTokens: options.maxTokens ?? DEFAULT_ONNX_MAX_TOKENS,
      setting: 'WARDEN_EMBEDDING_MODEL_DIR',
    });
    const probe = new OnnxEmbedder(textModel, textModel.name, 0);
    const [vector] = await probe.embed(['dimension probe']);
    return new OnnxEmbedder(textModel, textModel.name, vector.length);
  }

  async embed(texts: readonly string[]): Promise<number[][]> {
    const vectors: number[][] = [];
    for (let start = 0; start < texts.length; start += BATCH_SIZE) {
      const { output, mask, batch, width } = await this.textModel.run(texts.slice(start, start + BATCH_SIZE));
      vectors.push(...poolOutput(output, mask, batch, width));
    }
    return vectors;
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
