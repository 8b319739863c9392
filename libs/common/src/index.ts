export * from './config.js';
export * from './embedding-config.js';
export * from './errors.js';
export * from './hashing.js';
export * from './logger.js';
export * from './random.js';
export * from './version.js';
export * from './private-file.js';
