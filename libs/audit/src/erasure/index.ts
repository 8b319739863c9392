export * from './subject-keys.js';
export * from './personal-fields.js';
export * from './erasure.service.js';
