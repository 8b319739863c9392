export * from './case-state.js';
export * from './decision-updates.js';
export * from './review-access.js';
export * from './review-config.js';
export * from './review.service.js';
export * from './routing.js';
export * from './use-case-switch.js';
export * from './webhooks.js';
