import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { ToolIdentity } from '../tools/tool.ts';

/** Per-grant and per-user tool-call quotas on this replica. Returns the seconds to wait when over quota. */
export function toolCallQuotas({ perGrant, perUser }: { perGrant: number; perUser: number }) {
  const grants = perGrant > 0 ? new RateLimiterMemory({ keyPrefix: 'grant', points: perGrant, duration: 60 }) : null;
  const users = perUser > 0 ? new RateLimiterMemory({ keyPrefix: 'user', points: perUser, duration: 60 }) : null;
  return async (identity: ToolIdentity): Promise<number | null> => {
    for (const [limiter, key] of [
      [grants, identity.grantId],
      [users, identity.userId],
    ] as const) {
      if (!limiter) continue;
      try {
        await limiter.consume(key);
      } catch (rejection) {
        if (rejection instanceof RateLimiterRes) return Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
        throw rejection;
      }
    }
    return null;
  };
}
