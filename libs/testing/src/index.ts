export * from './decider-spec.ts';
export * from './nats.ts';
export * from './ports.ts';
export * from './service-process.ts';
