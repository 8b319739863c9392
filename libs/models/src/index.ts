export * from './feature-encoder.js';
export * from './logistic-regression.js';
export * from './metrics.js';
export * from './model-registry.js';
export * from './onnx-export.js';
export * from './onnx-scorer.js';
export * from './onnx-text-model.js';
