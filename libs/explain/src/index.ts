export * from './linear-shap.js';
export * from './reason-codes.js';
