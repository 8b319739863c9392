import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { FailedPreconditionError } from '../../common/src/index.js';
import { OnnxEmbedder } from './onnx-embedder.js';

const { onnx } = onnxProto;

const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'credit', 'risk', 'notice', 'adverse', '##s'];
const HIDDEN = 4;
/** Row i is the embedding of token i; chosen so every sum is easy to check by hand. */
const TABLE = VOCAB.map((_, row) => Array.from({ length: HIDDEN }, (_, column) => (row === column ? 1 : 0) + row * 0.1 + column * 0.01));

/** Returns a BERT-style tokenizer.json: lowercase, split on whitespace and punctuation, WordPiece, [CLS] ... [SEP]. */
function tokenizerJson(): Record<string, unknown> {
  const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(0, '[PAD]'), special(1, '[UNK]'), special(2, '[CLS]'), special(3, '[SEP]')],
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: { type: 'BertProcessing', sep: ['[SEP]', 3], cls: ['[CLS]', 2] },
    decoder: null,
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: Object.fromEntries(VOCAB.map((token, id) => [token, id])) },
  };
}

/**
 * Builds a sentence-embedding model in miniature: last_hidden_state = Gather(table, input_ids), with
 * the [batch, tokens] inputs and [batch, tokens, hidden] output of a real transformer export.
 */
function tinyModel(): Uint8Array {
  const int64 = onnx.TensorProto.DataType.INT64;
  const float = onnx.TensorProto.DataType.FLOAT;
  const tokens = [{ dimParam: 'batch' }, { dimParam: 'tokens' }];
  const data = new Float32Array(TABLE.flat());
  const model = onnx.ModelProto.create({
    irVersion: 7,
    opsetImport: [{ domain: '', version: 13 }],
    producerName: 'warden-test',
    graph: {
      name: 'tiny_sentence_encoder',
      input: [
        { name: 'input_ids', type: { tensorType: { elemType: int64, shape: { dim: tokens } } } },
        { name: 'attention_mask', type: { tensorType: { elemType: int64, shape: { dim: tokens } } } },
      ],
      output: [{ name: 'last_hidden_state', type: { tensorType: { elemType: float, shape: { dim: [...tokens, { dimValue: HIDDEN }] } } } }],
      initializer: [{ name: 'table', dataType: float, dims: [VOCAB.length, HIDDEN], rawData: new Uint8Array(data.buffer) }],
      node: [{ name: 'lookup', opType: 'Gather', input: ['table', 'input_ids'], output: ['last_hidden_state'], attribute: [{ name: 'axis', i: 0, type: onnx.AttributeProto.AttributeType.INT }] }],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** Mean of the table rows of `ids`, L2-normalized: what the embedder must return. */
function expected(ids: number[]): number[] {
  const mean = Array.from({ length: HIDDEN }, (_, column) => ids.reduce((sum, id) => sum + Math.fround(TABLE[id][column]), 0) / ids.length);
  const norm = Math.hypot(...mean);
  return mean.map((value) => value / norm);
}

describe('OnnxEmbedder on a tiny model', () => {
  let folder: string;
  before(() => {
    folder = mkdtempSync(join(tmpdir(), 'warden-onnx-embedder-'));
    writeFileSync(join(folder, 'model.onnx'), tinyModel());
    writeFileSync(join(folder, 'tokenizer.json'), JSON.stringify(tokenizerJson()));
  });
  after(() => rmSync(folder, { recursive: true, force: true }));

  it('loads the folder and probes the dimension', async () => {
    const embedder = await OnnxEmbedder.load(folder, { model: 'tiny-encoder' });
    assert.equal(embedder.provider, 'onnx');
    assert.equal(embedder.model, 'tiny-encoder');
    assert.equal(embedder.dimension, HIDDEN);
  });

  it('mean-pools token vectors and normalizes', async () => {
    const embedder = await OnnxEmbedder.load(folder);
    const [vector] = await embedder.embed(['Credit risk']);
    // [CLS] credit risk [SEP]
    const want = expected([2, 4, 5, 3]);
    vector.forEach((value, index) => assert.ok(Math.abs(value - want[index]) < 1e-6, `component ${index}: ${value} vs ${want[index]}`));
  });

  it('ignores padding in a batch of different lengths', async () => {
    const embedder = await OnnxEmbedder.load(folder);
    const [short, long] = await embedder.embed(['notice', 'adverse notices unknownword']);
    const [alone] = await embedder.embed(['notice']);
    // The short text is padded to the long one's length; the mask keeps padding out of the mean.
    short.forEach((value, index) => assert.ok(Math.abs(value - alone[index]) < 1e-6, `component ${index}`));
    // [CLS] adverse notice ##s [UNK] [SEP]
    const want = expected([2, 7, 6, 8, 1, 3]);
    long.forEach((value, index) => assert.ok(Math.abs(value - want[index]) < 1e-6, `component ${index}: ${value} vs ${want[index]}`));
  });

  it('rejects a folder without tokenizer.json', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'warden-onnx-empty-'));
    writeFileSync(join(empty, 'model.onnx'), tinyModel());
    try {
      await assert.rejects(OnnxEmbedder.load(empty), (error: unknown) => error instanceof FailedPreconditionError && /tokenizer\.json/.test(error.message));
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
