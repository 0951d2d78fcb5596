export * from './targets.ts';
export * from './fetch-document.ts';
export * from './freshness.ts';
