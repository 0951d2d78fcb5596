export * from './event-store.ts';
export * from './errors.ts';
export * from './logger.ts';
export * from './durable-worker.ts';
export * from './persistently.ts';
