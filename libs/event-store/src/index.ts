export * from './event-store.ts';
export * from './errors.ts';
export * from './logger.ts';
