import { randomUUID } from 'node:crypto';
import type { DecidedEvent } from '@mcp-auth/contracts';
import type { EventStore, Logger } from '@mcp-auth/event-store';
import type { RequestOrigin } from '@mcp-auth/http';
import type { ToolIdentity } from '../tools/tool.ts';

/**
 * ToolInvoked / ToolDenied for every tools/call: who, which client, which tool, the outcome and how long it
 * took, never the token or the arguments. Published after the answer is on its way (the caller does not
 * wait for the audit), retried by the event store with the same id, and logged if it finally fails.
 */
export class AuditLog {
  constructor(
    private readonly store: EventStore,
    private readonly logger: Logger,
  ) {}

  invoked(tool: string, identity: ToolIdentity | null, outcome: 'success' | 'error', durationMs: number, origin: RequestOrigin = {}): void {
    this.#publish(origin, {
      type: 'ToolInvoked',
      data: { invocationId: randomUUID(), tool, userId: identity?.userId ?? null, clientId: identity?.clientId ?? null, grantId: identity?.grantId ?? null, outcome, durationMs: Math.round(durationMs * 1000) / 1000 },
    });
  }

  denied(tool: string, identity: ToolIdentity | null, reason: 'insufficient_scope' | 'quota_exceeded', requiredScopes: string[], origin: RequestOrigin = {}): void {
    this.#publish(origin, {
      type: 'ToolDenied',
      data: { invocationId: randomUUID(), tool, userId: identity?.userId ?? null, clientId: identity?.clientId ?? null, grantId: identity?.grantId ?? null, reason, requiredScopes },
    });
  }

  #pending: Array<{ event: DecidedEvent; origin: RequestOrigin }> = [];

  #publish(origin: RequestOrigin, event: DecidedEvent): void {
    // Events of one turn of the event loop are published together, so NATS gets them in one write.
    if (this.#pending.push({ event, origin }) === 1) setImmediate(() => this.#flush());
  }

  #flush(): void {
    for (const { event, origin } of this.#pending.splice(0)) {
      const actor = { kind: 'client' as const, id: ('clientId' in event.data && event.data.clientId) || 'anonymous' };
      this.store.appendDecided([event], { actor, ...origin }).catch((err: unknown) => this.logger.error({ err: String(err), type: event.type }, 'audit event lost'));
    }
  }
}
