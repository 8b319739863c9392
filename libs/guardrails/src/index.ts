export * from './pii/index.js';
export * from './redaction.js';
export * from './scrub.js';
export * from './injection/index.js';
export * from './output/groundedness.js';
export * from './placeholders.js';
export * from './placeholder-vault.js';
