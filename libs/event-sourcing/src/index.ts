export * from './projection.ts';
export * from './projector.ts';
export * from './read-your-writes.ts';
export * from './readiness.ts';
export * from './service-runtime.ts';
export * from './command.ts';
export * from './command-server.ts';
export * from './policy.ts';
