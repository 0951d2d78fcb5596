import type { AdminDeps } from '../deps.ts';

// STUB — to be written (webhooks feature).
export async function startWebhookWorkers(_deps: AdminDeps): Promise<{ stop(): Promise<void> }> {
  return { async stop() {} };
}
