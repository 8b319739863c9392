export * from './pii/index.js';
export * from './redaction.js';
export * from './scrub.js';
