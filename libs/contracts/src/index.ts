export * from './envelope.ts';
export * from './subjects.ts';
export * from './catalogue.ts';
export * from './registration-events.ts';
export * from './authorization-events.ts';
export * from './token-events.ts';
export * from './mcp-events.ts';
export * from './admin-events.ts';
