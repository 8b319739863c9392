export * from './access-catalog.js';
export * from './policy-bundle.js';
export * from './policy-enforcer.js';
export * from './signing-key.js';
export * from './tokens.js';
