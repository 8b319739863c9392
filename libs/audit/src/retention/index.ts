export * from './retention-rules.js';
export * from './retention.service.js';
