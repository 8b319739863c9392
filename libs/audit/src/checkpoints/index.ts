export * from './checkpoint-note.js';
export * from './checkpoint-keys.js';
export * from './checkpoint-witness.js';
export * from './checkpoint.service.js';
export * from './checkpoint-scheduler.js';
