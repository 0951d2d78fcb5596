export * from './html.ts';
export * from './page.ts';
export * from './csrf.ts';
export * from './cookies.ts';
