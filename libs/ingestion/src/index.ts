export * from './dataset-definition.js';
export * from './record-validation.js';
export * from './file-parsers.js';
export * from './synthetic-german-credit.js';
export * from './ingestion.service.js';
export * from './ingestion.repository.js';
export * from './synthetic-paysim.js';
