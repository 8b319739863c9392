import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** Words the tiny classifier leans on; every other word is [UNK]. */
const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'ignore', 'previous', 'instructions', 'reveal', 'prompt', 'overdraft', 'fee', 'statement', 'balance'];
const INJECTION_WORDS = new Set(['ignore', 'previous', 'instructions', 'reveal', 'prompt']);

/** Logits [SAFE, INJECTION] of each token: injection words push towards INJECTION, banking words towards SAFE. */
function logitsOf(token: string): [number, number] {
  if (INJECTION_WORDS.has(token)) return [0, 4];
  if (token === '[UNK]') return [0.5, 0];
  if (token.startsWith('[')) return [0, 0];
  return [3, 0];
}

/**
 * Writes a sequence classifier in miniature into `folder`: logits = ReduceMean over tokens of
 * Gather(table, input_ids), with the input_ids [batch, tokens] input and logits [batch, 2] output
 * of a real export, a BERT-style tokenizer.json and a config.json whose id2label is SAFE and
 * INJECTION. The score is the softmax of the mean of the tokens' rows, [CLS] and [SEP] included.
 */
export function writeTinyClassifier(folder: string): void {
  const int64 = onnx.TensorProto.DataType.INT64;
  const float = onnx.TensorProto.DataType.FLOAT;
  const tokens = [{ dimParam: 'batch' }, { dimParam: 'tokens' }];
  const table = new Float32Array(VOCAB.flatMap((token) => logitsOf(token)));
  const model = onnx.ModelProto.create({
    irVersion: 7,
    opsetImport: [{ domain: '', version: 13 }],
    producerName: 'warden-test',
    graph: {
      name: 'tiny_injection_classifier',
      input: [
        { name: 'input_ids', type: { tensorType: { elemType: int64, shape: { dim: tokens } } } },
        { name: 'attention_mask', type: { tensorType: { elemType: int64, shape: { dim: tokens } } } },
      ],
      output: [{ name: 'logits', type: { tensorType: { elemType: float, shape: { dim: [{ dimParam: 'batch' }, { dimValue: 2 }] } } } }],
      initializer: [{ name: 'table', dataType: float, dims: [VOCAB.length, 2], rawData: new Uint8Array(table.buffer) }],
      node: [
        { name: 'lookup', opType: 'Gather', input: ['table', 'input_ids'], output: ['token_logits'], attribute: [{ name: 'axis', i: 0, type: onnx.AttributeProto.AttributeType.INT }] },
        {
          name: 'pool',
          opType: 'ReduceMean',
          input: ['token_logits'],
          output: ['logits'],
          attribute: [
            { name: 'axes', ints: [1], type: onnx.AttributeProto.AttributeType.INTS },
            { name: 'keepdims', i: 0, type: onnx.AttributeProto.AttributeType.INT },
          ],
        },
      ],
    },
  });
  writeFileSync(join(folder, 'model.onnx'), onnx.ModelProto.encode(model).finish());
  writeFileSync(
    join(folder, 'tokenizer.json'),
    JSON.stringify({
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: ['[PAD]', '[UNK]', '[CLS]', '[SEP]'].map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
      normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
      pre_tokenizer: { type: 'BertPreTokenizer' },
      post_processor: { type: 'BertProcessing', sep: ['[SEP]', 3], cls: ['[CLS]', 2] },
      decoder: null,
      model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: Object.fromEntries(VOCAB.map((token, id) => [token, id])) },
    }),
  );
  writeFileSync(join(folder, 'config.json'), JSON.stringify({ id2label: { '0': 'SAFE', '1': 'INJECTION' } }));
}
