export * from './event-store.ts';
export * from './errors.ts';
/** One logger type for every library and service (pino's logger is one). */
export { silentLogger, type Logger } from '@mcp-auth/contracts';
export * from './durable-worker.ts';
export * from './persistently.ts';
export * from './nats-access.ts';
export * from './streams.ts';
export * from './server-config.ts';
export * from './nats-version.mjs';
export * from './stored-event.ts';
