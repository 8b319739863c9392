import ort from 'onnxruntime-node';
import { BadUserInputError } from '../../common/src/index.js';
import { ONNX_INPUT_NAME, ONNX_OUTPUT_NAME } from './onnx-export.js';

/**
 * Scores encoded rows with an ONNX model on onnxruntime-node (CPU). The model must take the
 * `features` DOUBLE [N, d] input and return `probability` [N, 1], as exportLogisticRegressionOnnx
 * writes it.
 */
export class OnnxScorer {
  private constructor(
    private readonly session: ort.InferenceSession,
    /** Number of encoded columns the model expects per row. */
    readonly width: number,
  ) {}

  static async load(bytes: Uint8Array): Promise<OnnxScorer> {
    const session = await ort.InferenceSession.create(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    const input = session.inputMetadata.find((metadata) => metadata.name === ONNX_INPUT_NAME);
    const width = input?.isTensor ? input.shape[1] : undefined;
    if (input?.isTensor !== true || input.type !== 'float64' || typeof width !== 'number' || !session.outputNames.includes(ONNX_OUTPUT_NAME)) {
      await session.release();
      throw new BadUserInputError(
        `The ONNX model must have a float64 input "${ONNX_INPUT_NAME}" of shape [N, d] and an output "${ONNX_OUTPUT_NAME}".`,
      );
    }
    return new OnnxScorer(session, width);
  }

  /** Returns the probability for each row, in order. Every row must have `width` finite values. */
  async score(rows: readonly Float64Array[]): Promise<number[]> {
    if (rows.length === 0) return [];
    const batch = new Float64Array(rows.length * this.width);
    rows.forEach((row, index) => {
      if (row.length !== this.width) {
        throw new BadUserInputError(`Row ${index} has ${row.length} encoded columns but the model expects ${this.width}.`, [
          { field: `/${index}`, message: `must have ${this.width} columns` },
        ]);
      }
      if (!row.every(Number.isFinite)) {
        throw new BadUserInputError(`Row ${index} contains a value that is not a finite number.`, [{ field: `/${index}`, message: 'must be finite' }]);
      }
      batch.set(row, index * this.width);
    });

    const feeds = { [ONNX_INPUT_NAME]: new ort.Tensor('float64', batch, [rows.length, this.width]) };
    const results = await this.session.run(feeds);
    return Array.from(results[ONNX_OUTPUT_NAME].data as Float64Array);
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
