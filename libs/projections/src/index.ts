export * from './clients.ts';
export * from './consents.ts';
