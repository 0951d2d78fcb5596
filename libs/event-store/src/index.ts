export * from './event-store.ts';
export * from './errors.ts';
export * from './logger.ts';
export * from './durable-worker.ts';
export * from './persistently.ts';
export * from './nats-access.ts';
export * from './streams.ts';
export * from './server-config.ts';
