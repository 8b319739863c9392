import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import onnxProto from 'onnx-proto';
import { BadUserInputError, createSeededRandom } from '../../common/src/index.js';
import { scoreFromCoefficients } from './logistic-regression.js';
import {
  exportLogisticRegressionOnnx,
  ONNX_METADATA_ENCODER_SHA256,
  ONNX_METADATA_MODEL_VERSION,
  readOnnxMetadata,
} from './onnx-export.js';
import { OnnxScorer } from './onnx-scorer.js';

const model = {
  coefficients: [0.75, -1.25, 2.5e-3],
  intercept: -0.4,
  columns: [{ name: 'duration_months' }, { name: 'checking_status=A11' }, { name: 'checking_status=A14' }],
  modelVersion: 'credit-application@1',
  encoderStateHash: 'a'.repeat(64),
};

describe('exportLogisticRegressionOnnx', () => {
  it('writes the graph header and metadata', () => {
    const decoded = onnxProto.onnx.ModelProto.decode(exportLogisticRegressionOnnx(model));
    assert.equal(Number(decoded.irVersion), 7);
    assert.equal(Number(decoded.opsetImport[0].version), 13);
    assert.equal(decoded.producerName, 'warden');
    assert.match(decoded.docString, /duration_months, checking_status=A11, checking_status=A14$/);
    assert.deepEqual(
      decoded.graph?.node?.map((node) => node.opType),
      ['MatMul', 'Add', 'Sigmoid'],
    );
    assert.deepEqual(readOnnxMetadata(exportLogisticRegressionOnnx(model)), {
      [ONNX_METADATA_MODEL_VERSION]: 'credit-application@1',
      [ONNX_METADATA_ENCODER_SHA256]: 'a'.repeat(64),
    });
  });

  it('is byte-for-byte deterministic', () => {
    assert.deepEqual(exportLogisticRegressionOnnx(model), exportLogisticRegressionOnnx(model));
  });

  it('rejects a column count that differs from the coefficients', () => {
    assert.throws(() => exportLogisticRegressionOnnx({ ...model, columns: model.columns.slice(1) }), BadUserInputError);
  });
});

describe('OnnxScorer', () => {
  it('scores like the coefficients', async () => {
    const scorer = await OnnxScorer.load(exportLogisticRegressionOnnx(model));
    const random = createSeededRandom(5);
    const rows = Array.from({ length: 50 }, () => Float64Array.of(random() * 6 - 3, random() < 0.5 ? 1 : 0, random() * 400));
    const scores = await scorer.score(rows);
    assert.equal(scores.length, 50);
    rows.forEach((row, i) => {
      const expected = scoreFromCoefficients(model.coefficients, model.intercept, row);
      assert.ok(Math.abs(scores[i] - expected) < 1e-12, `row ${i}: ${scores[i]} vs ${expected}`);
    });
    await scorer.release();
  });

  it('rejects a row of the wrong width', async () => {
    const scorer = await OnnxScorer.load(exportLogisticRegressionOnnx(model));
    assert.equal(scorer.width, 3);
    await assert.rejects(scorer.score([Float64Array.of(1, 0)]), /Row 0 has 2 encoded columns but the model expects 3/);
    assert.deepEqual(await scorer.score([]), []);
    await scorer.release();
  });

  it('rejects bytes that are not an ONNX model', async () => {
    await assert.rejects(OnnxScorer.load(new Uint8Array([1, 2, 3, 4])));
  });
});
