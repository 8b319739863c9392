export * from './data-source.js';
export * from './embedded-postgres.js';
export * from './search-path.js';
export * from './pool-wait.js';
