import type { Logger } from '@mcp-auth/contracts';

/**
 * Retries `attempt` (with a growing pause, at most 5 s) until it returns true; false if `isStopping` says so
 * first, and the message stays unacknowledged. For a step a durable consumer's handler must not pass over: the
 * message is acknowledged only once it is done.
 */
export async function persistently(
  what: string,
  position: number,
  { logger, isStopping }: { logger: Logger; isStopping: () => boolean },
  attempt: () => Promise<boolean>,
): Promise<boolean> {
  for (let backoffMs = 200; ; backoffMs = Math.min(backoffMs * 2, 5_000)) {
    if (isStopping()) return false;
    try {
      if (await attempt()) return true;
    } catch (err) {
      logger.warn({ err: String(err), position }, `${what}; retrying`);
    }
    await new Promise((resolve) => setTimeout(resolve, backoffMs));
  }
}
