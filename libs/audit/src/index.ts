export * from './ledger.types.js';
