export * from './event-fields.js';
export * from './batch-processor.js';
export * from './jetstream.js';
export * from './stream-consumer.js';
export * from './publisher.js';
export * from './stream-ingestion.js';
