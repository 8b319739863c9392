export * from './api-keys.js';
export * from './llm-gateway.js';
export * from './openai-error.js';
export * from './pricing.js';
export * from './request-validation.js';
export * from './upstream-config.js';
export * from './usage-recorder.js';
export * from './usage-summary.js';
