export * from './ledger.types.js';
export * from './ledger-hash.js';
export { validateLedgerEntryInput } from './ledger-input.js';
export * from './ledger.js';
export * from './bundle-format.js';
export * from './export-bundle.js';
export * from './verify-bundle.js';
