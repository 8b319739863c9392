import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import ort from 'onnxruntime-node';
import { FailedPreconditionError } from '../../common/src/index.js';

/** One batch run of a text model: its first output, and the padded attention mask of the batch. */
export interface TextModelOutput {
  output: ort.Tensor;
  /** Attention mask [batch, width] as int64; 0 marks padding. */
  mask: BigInt64Array;
  batch: number;
  /** Tokens per row after padding. */
  width: number;
}

/**
 * A local transformer text model: `model.onnx` and `tokenizer.json` (Hugging Face tokenizers
 * format, plus `tokenizer_config.json` and `config.json` when present) in one folder, run on CPU
 * with onnxruntime-node. The model takes `input_ids` and, when it declares them,
 * `attention_mask` and `token_type_ids`, all int64 [batch, tokens]. Sentence embedders and text
 * classifiers share this loading and tokenization.
 */
export class OnnxTextModel {
  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly tokenizer: Tokenizer,
    readonly name: string,
    private readonly maxTokens: number,
    private readonly padId: number,
    /** The folder's config.json, or an empty object. */
    readonly config: Record<string, unknown>,
  ) {}

  /**
   * Loads the folder. Raises FailedPreconditionError naming a missing file or input; `setting`
   * names what the operator changes to point at another folder, such as WARDEN_EMBEDDING_MODEL_DIR.
   */
  static async load(folder: string, options: { name?: string; maxTokens: number; setting: string }): Promise<OnnxTextModel> {
    const modelFile = join(folder, 'model.onnx');
    const tokenizerFile = join(folder, 'tokenizer.json');
    for (const file of [modelFile, tokenizerFile]) {
      if (!existsSync(file)) {
        throw new FailedPreconditionError(`The ONNX model folder ${folder} has no ${basename(file)}. Set ${options.setting} to a folder with model.onnx and tokenizer.json.`);
      }
    }
    const tokenizerJson = readJson(tokenizerFile);
    const tokenizerConfigFile = join(folder, 'tokenizer_config.json');
    const tokenizer = new Tokenizer(tokenizerJson, existsSync(tokenizerConfigFile) ? readJson(tokenizerConfigFile) : {});
    const configFile = join(folder, 'config.json');
    const config = existsSync(configFile) ? readJson(configFile) : {};
    const session = await ort.InferenceSession.create(modelFile);
    if (!session.inputNames.includes('input_ids')) {
      throw new FailedPreconditionError(
        `The ONNX model in ${folder} has no input_ids input (inputs: ${session.inputNames.join(', ')}). Export a transformer model with input_ids and attention_mask.`,
      );
    }
    return new OnnxTextModel(session, tokenizer, options.name ?? basename(folder), options.maxTokens, padTokenId(tokenizerJson), config);
  }

  /** Tokenizes `texts` (cut at maxTokens), pads them to one width and runs the model once. */
  async run(texts: readonly string[]): Promise<TextModelOutput> {
    const encodings = texts.map((text) => {
      const encoding = this.tokenizer.encode(text);
      const ids: number[] = encoding.ids.slice(0, this.maxTokens);
      if (ids.some((id) => !Number.isInteger(id))) {
        throw new FailedPreconditionError(`The tokenizer of model ${this.name} returned a token without an id; check that its vocabulary has an unknown token.`);
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
    return { output: results[this.session.outputNames[0]], mask, batch: texts.length, width };
  }
}

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
}

/** Returns the id of the tokenizer's padding token ([PAD] or <pad>), or 0. */
function padTokenId(tokenizerJson: Record<string, unknown>): number {
  const padding = tokenizerJson.padding as { pad_id?: number } | null | undefined;
  if (typeof padding?.pad_id === 'number') return padding.pad_id;
  const added = (tokenizerJson.added_tokens as Array<{ id: number; content: string }> | undefined) ?? [];
  return added.find((token) => token.content === '[PAD]' || token.content === '<pad>')?.id ?? 0;
}
