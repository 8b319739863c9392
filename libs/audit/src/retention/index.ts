export * from './retention-rules.js';
export * from './retention.service.js';
export * from './purge-accounting.js';
export * from './review-text.js';
export * from './clock-check.js';
export * from './hold-text.js';
export * from './dataset-purge.js';
