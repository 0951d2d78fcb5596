export * from './errors.ts';
export * from './pkce.ts';
export * from './redirect-uris.ts';
export * from './resources.ts';
export * from './scopes.ts';
export * from './secrets.ts';
export * from './deployment.ts';
export * from './access-token.ts';
