export * from './windows.js';
export * from './expression.js';
export * from './feature-view.js';
export * from './feature-values.js';
export * from './online-store.js';
export * from './offline-store.js';
export * from './backfill.js';
export * from './feature-store.service.js';
