import onnxProto, { type onnx as OnnxTypes } from 'onnx-proto';
import { BadUserInputError } from '../../common/src/index.js';

const { onnx } = onnxProto;

/** Names fixed by the exported graph; the scorer and other runtimes feed and fetch by them. */
export const ONNX_INPUT_NAME = 'features';
export const ONNX_OUTPUT_NAME = 'probability';
export const ONNX_OPSET = 13;
export const ONNX_IR_VERSION = 7;
export const ONNX_PRODUCER = 'warden';

/** Metadata keys written into `metadata_props`. */
export const ONNX_METADATA_MODEL_VERSION = 'warden.model_version';
export const ONNX_METADATA_ENCODER_SHA256 = 'warden.encoder_state_sha256';
/** JSON list of the feature views (name, version, definition hash) a model was trained on. */
export const ONNX_METADATA_FEATURE_VIEWS = 'warden.feature_views';

export interface LogisticRegressionExport {
  coefficients: readonly number[];
  intercept: number;
  columns: readonly { name: string }[];
  /** Registry version such as `credit-application@3`. */
  modelVersion: string;
  /** SHA-256 of the encoder state that produces the `features` input. */
  encoderStateHash: string;
  /** Feature views the training rows were read from, written as ONNX_METADATA_FEATURE_VIEWS. */
  featureViews?: readonly { view: string; version: string; hash: string }[];
}

/**
 * Exports a logistic regression as an ONNX model: probability = Sigmoid(MatMul(features, W) + b)
 * with input `features` DOUBLE [N, d] and output `probability` DOUBLE [N, 1]. Everything is
 * float64 so that ONNX scores agree with the fitted coefficients to about 1e-15, where float32
 * would lose agreement already at 1e-7. Returns the serialized ModelProto bytes.
 */
export function exportLogisticRegressionOnnx(model: LogisticRegressionExport): Uint8Array {
  const width = model.coefficients.length;
  if (width === 0 || model.columns.length !== width) {
    throw new BadUserInputError(`ONNX export needs one column name per coefficient, got ${model.columns.length} names for ${width} coefficients.`);
  }
  if (![...model.coefficients, model.intercept].every(Number.isFinite)) {
    throw new BadUserInputError('ONNX export needs finite coefficients and intercept.');
  }

  const doubleType = onnx.TensorProto.DataType.DOUBLE;
  const tensorType = (dims: OnnxTypes.TensorShapeProto.IDimension[]) => ({ tensorType: { elemType: doubleType, shape: { dim: dims } } });

  const graph: OnnxTypes.IGraphProto = {
    name: 'logistic_regression',
    input: [{ name: ONNX_INPUT_NAME, type: tensorType([{ dimParam: 'N' }, { dimValue: width }]) }],
    output: [{ name: ONNX_OUTPUT_NAME, type: tensorType([{ dimParam: 'N' }, { dimValue: 1 }]) }],
    initializer: [
      { name: 'W', dataType: doubleType, dims: [width, 1], rawData: float64LittleEndian(model.coefficients) },
      { name: 'b', dataType: doubleType, dims: [1], rawData: float64LittleEndian([model.intercept]) },
    ],
    node: [
      { name: 'linear', opType: 'MatMul', input: [ONNX_INPUT_NAME, 'W'], output: ['linear_output'] },
      { name: 'log_odds', opType: 'Add', input: ['linear_output', 'b'], output: ['log_odds'] },
      { name: 'sigmoid', opType: 'Sigmoid', input: ['log_odds'], output: [ONNX_OUTPUT_NAME] },
    ],
  };

  const message = onnx.ModelProto.create({
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: ONNX_PRODUCER,
    producerVersion: '1',
    domain: 'ai.warden',
    docString: `Logistic regression, probability of the positive class. Input columns in order: ${model.columns.map((column) => column.name).join(', ')}`,
    graph,
    metadataProps: [
      { key: ONNX_METADATA_MODEL_VERSION, value: model.modelVersion },
      { key: ONNX_METADATA_ENCODER_SHA256, value: model.encoderStateHash },
      ...(model.featureViews ? [{ key: ONNX_METADATA_FEATURE_VIEWS, value: JSON.stringify(model.featureViews) }] : []),
    ],
  });
  return onnx.ModelProto.encode(message).finish();
}

/** Reads the `metadata_props` of serialized ONNX model bytes into a plain object. */
export function readOnnxMetadata(bytes: Uint8Array): Record<string, string> {
  const decoded = onnx.ModelProto.decode(bytes);
  return Object.fromEntries(decoded.metadataProps.map((entry) => [entry.key ?? '', entry.value ?? '']));
}

function float64LittleEndian(values: readonly number[]): Uint8Array {
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  values.forEach((value, index) => view.setFloat64(index * 8, value, true));
  return bytes;
}
