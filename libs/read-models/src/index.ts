export * from './change-scoped-memo.ts';
export * from './clients.ts';
export * from './client-documents.ts';
export * from './consents.ts';
export * from './grants.ts';
export * from './signing-keys.ts';
