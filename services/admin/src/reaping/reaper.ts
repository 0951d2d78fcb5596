import type { AdminDeps } from '../deps.ts';

// STUB
export function startClientReaper(_deps: AdminDeps): { stop(): void } {
  return { stop() {} };
}
