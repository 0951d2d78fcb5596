export * from './event-store.ts';
export * from './errors.ts';
export * from './logger.ts';
export * from './nats-version.mjs';
export * from './stored-event.ts';
