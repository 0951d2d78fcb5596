// Projection rebuild throughput: fills a fresh stream with a realistic mix of events (what registrations,
// sign-ins, consents, code redemptions, refreshes and tool calls write), then replays it from sequence 1
// into fresh SQLite files with each service's projections, and reports events per second.
// Run: node --import tsx bench/rebuild.ts [events] [service...]   (REBUILD_RUNS=3 measured runs after one warm-up)
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { subjectOf, toEnvelope, type DecidedEvent } from '@mcp-auth/contracts';
import { EventStore } from '@mcp-auth/event-store';
import { clientsProjection, consentsProjection, grantsProjection, signingKeysProjection } from '@mcp-auth/read-models';
import { rebuildProjections, type Projection } from '@mcp-auth/event-sourcing';
import { startNats } from '@mcp-auth/testing';
import { usersProjection } from '../services/authorization/src/users/projection.ts';
import { registrationTokensProjection } from '../services/registration/src/clients/registration-tokens.ts';
import { codesProjection } from '../services/token/src/codes/projection.ts';
import { refreshTokensProjection } from '../services/token/src/refresh/projection.ts';
import { notesProjection } from '../services/mcp-tools/src/tools/notes-projection.ts';
import { auditProjection } from '../services/admin/src/audit/projection.ts';
import { clientUsageProjection } from '../services/admin/src/clients/usage-projection.ts';
import { usersProjection as adminUsersProjection } from '../services/admin/src/users/projection.ts';
import { webhooksProjection } from '../services/admin/src/webhooks/projection.ts';
import { median } from './median.ts';

export const SERVICE_PROJECTIONS: Record<string, Projection[]> = {
  registration: [clientsProjection, registrationTokensProjection],
  authorization: [clientsProjection, consentsProjection, usersProjection],
  token: [clientsProjection, consentsProjection, grantsProjection, signingKeysProjection, codesProjection, refreshTokensProjection],
  'mcp-tools': [clientsProjection, consentsProjection, grantsProjection, signingKeysProjection, notesProjection],
  admin: [clientsProjection, consentsProjection, grantsProjection, signingKeysProjection, adminUsersProjection, clientUsageProjection, auditProjection, webhooksProjection],
};

const id = () => randomUUID().replace(/-/g, '');

/** One "session" of an agent: registration, sign-in, consent, code, redemption, refreshes, tool calls. */
function agentSession(): DecidedEvent[] {
  const clientId = id();
  const userId = `usr_${id().slice(0, 24)}`;
  const consentId = id();
  const codeHash = id();
  const grantId = id();
  const metadata = { redirect_uris: ['http://127.0.0.1:33418/callback'], token_endpoint_auth_method: 'none' as const, grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], application_type: 'native' as const, client_name: 'bench agent' };
  const events: DecidedEvent[] = [
    { type: 'ClientRegistered', data: { clientId, clientIdIssuedAt: 1, metadata, clientSecretHash: null, registrationTokenHash: id(), fingerprint: null } },
    { type: 'UserSignedIn', data: { userId, sessionHash: id(), expiresAt: 2_000_000_000 } },
    { type: 'ConsentGranted', data: { consentId, userId, clientId, resource: 'http://localhost:3000/mcp', scopes: ['profile', 'notes:read'], redirectUrisFingerprint: id() } },
    { type: 'AuthorizationCodeIssued', data: { codeHash, clientId, userId, redirectUri: metadata.redirect_uris[0]!, codeChallenge: id(), codeChallengeMethod: 'S256', resource: 'http://localhost:3000/mcp', scopes: ['profile', 'notes:read'], consentId, expiresAt: 2_000_000_000 } },
    { type: 'AuthorizationCodeRedeemed', data: { codeHash, grantId, clientId, userId, resource: 'http://localhost:3000/mcp', scopes: ['profile', 'notes:read'], consentId, refreshTokenHash: id(), accessTokenJti: id(), accessTokenExpiresAt: 2_000_000_000, grantExpiresAt: 2_000_000_000 } },
  ];
  for (let i = 0; i < 5; i++) {
    events.push({ type: 'RefreshTokenRotated', data: { grantId, clientId, spentRefreshTokenHash: id(), refreshTokenHash: id(), scopes: ['profile', 'notes:read'], accessTokenJti: id(), accessTokenExpiresAt: 2_000_000_000, graceRetry: false } });
  }
  for (let i = 0; i < 10; i++) {
    events.push({ type: 'ToolInvoked', data: { invocationId: id(), tool: 'echo', userId, clientId, grantId, outcome: 'success', durationMs: 0.2 } });
  }
  events.push({ type: 'NoteCreated', data: { noteId: id(), userId, title: 'note', text: 'text' } });
  return events;
}

export async function fillStream(store: EventStore, count: number): Promise<number> {
  const actor = { actor: { kind: 'system' as const, id: 'bench' } };
  let written = 0;
  while (written < count) {
    const batch: Array<Promise<unknown>> = [];
    for (let s = 0; s < 50 && written < count; s++) {
      for (const event of agentSession()) {
        batch.push(store.append(subjectOf(event), toEnvelope(event, actor)));
        written++;
      }
    }
    await Promise.all(batch);
  }
  return written;
}

export type RebuildFigure = {
  events: number;
  /** The median of the measured rebuilds. */
  perSecond: number;
  /** Each measured rebuild's events per second, in the order they ran. */
  runs: number[];
  seconds: number;
};

/**
 * Rebuilds each service's projections `runs` times after one that warms up the code (not counted), each into
 * a fresh file, and reports the median with every run: on a shared machine one run can be a third off.
 */
export async function measureRebuild(events = 100_000, services = Object.keys(SERVICE_PROJECTIONS), runs = 3): Promise<Record<string, RebuildFigure>> {
  const nats = await startNats({ restartable: true });
  const store = await EventStore.connect({ servers: nats.url, connectionName: 'rebuild-bench' });
  try {
    await fillStream(store, events);
    const dir = mkdtempSync(join(tmpdir(), 'rebuild-'));
    const results: Record<string, RebuildFigure> = {};
    for (const service of services) {
      const projections = SERVICE_PROJECTIONS[service];
      if (!projections) throw new Error(`no service ${service}: ${Object.keys(SERVICE_PROJECTIONS).join(', ')}`);
      const measured: Array<{ events: number; seconds: number }> = [];
      for (let run = 0; run <= runs; run++) {
        const r = await rebuildProjections({ store, file: join(dir, `${service}-${run}.sqlite`), projections });
        if (run > 0) measured.push(r);
      }
      const perSecond = measured.map((r) => Math.round(r.events / r.seconds));
      const seconds = median(measured.map((r) => r.seconds));
      results[service] = { events: measured[0]!.events, perSecond: Math.round(median(perSecond)), runs: perSecond, seconds: Math.round(seconds * 1000) / 1000 };
    }
    rmSync(dir, { recursive: true, force: true });
    return results;
  } finally {
    await store.close();
    await nats.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [n = '100000', ...services] = process.argv.slice(2);
  console.log(JSON.stringify(await measureRebuild(Number(n), services.length > 0 ? services : undefined, Number(process.env.REBUILD_RUNS ?? 3)), null, 2));
}
