export * from './targets.ts';
export * from './fetch-document.ts';
