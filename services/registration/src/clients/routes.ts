import Router from '@koa/router';
import type { Context } from 'koa';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { isSubjectToken, subjects, type Actor } from '@mcp-auth/contracts';
import type { EventStore } from '@mcp-auth/event-store';
import { readJsonObject, tooManyRequests, type Logger, eventContextOf } from '@mcp-auth/http';
import { InvalidClientMetadata, InvalidRequest, InvalidToken, OAuthError, hashSecret, randomToken, secretMatchesHash } from '@mcp-auth/oauth';
import { ClientsReadModel, type RegisteredClient } from '@mcp-auth/read-models';
import { checkTargetUrl } from '@mcp-auth/outbound';
import { catchUpWithSubject, executeCommand, type AggregateCommand, type Projector } from '@mcp-auth/event-sourcing';
import type { RegistrationConfig } from '../config.ts';
import { clientInformation } from './client-response.ts';
import { RegistrationTokensReadModel } from './registration-tokens.ts';
import { publicClientFingerprint, validateClientMetadata } from './client-metadata.ts';
import { clientStateOf, executeClientCommand } from './client-commands.ts';
import { ClientIdTaken, ClientNotFound, SharedClientLocked, decide, type ClientCommand, type ClientState } from './decider.ts';

export type RegistrationDeps = {
  config: RegistrationConfig;
  store: EventStore;
  projector: Projector;
  logger: Logger;
};

export function clientRegistrationRoutes({ config, store, projector, logger }: RegistrationDeps): Router {
  const router = new Router();
  const clients = new ClientsReadModel(projector.db, projector);
  const registrationTokens = new RegistrationTokensReadModel(projector.db, projector);
  const commandDeps = { store, projector, logger, clients, registrationTokens };
  const newClientLimiter = limiter('register-new', config.REGISTRATION_RATE_LIMIT);
  // A re-registration is counted per (client, address), then per address, then per client, and stops at the first
  // limit it is over: what one address is refused never spends the budget that every install of the client shares.
  const reregistrationLimiters = [
    { limiter: limiter('register-again-client-address', config.REREGISTRATION_RATE_LIMIT_PER_CLIENT_AND_ADDRESS), key: (clientId: string, address: string) => `${clientId}|${address}` },
    { limiter: limiter('register-again-address', config.REREGISTRATION_RATE_LIMIT_PER_ADDRESS), key: (_clientId: string, address: string) => address },
    { limiter: limiter('register-again', config.REREGISTRATION_RATE_LIMIT), key: (clientId: string) => clientId },
  ];
  const clientUri = (clientId: string) => `${config.REGISTRATION_BASE_URL}/register/${clientId}`;
  const bodyError = (status: number, description: string) => new OAuthError('invalid_client_metadata', description, status);

  /** Reads one client authoritatively: the stream says how far the projection must be before we answer. */
  async function loadClient(clientId: string): Promise<{ client: RegisteredClient | null }> {
    const version = await catchUpWithSubject(store, projector, subjects.client(clientId));
    return { client: version === 0 ? null : clients.find(clientId) };
  }

  /**
   * The metadata rules, then where a jwks_uri points: the token service will fetch it, so it must name a public
   * host (the webhooks' SSRF policy; checked again as the socket connects, against DNS rebinding).
   */
  function validated(body: Record<string, unknown>) {
    const allowPrivate = config.CLIENT_METADATA_ALLOW_PRIVATE_TARGETS;
    const verdict = validateClientMetadata(body, { allowLoopbackHttpJwksUri: allowPrivate });
    if (!verdict.ok) throw verdict.error;
    const jwksUri = verdict.metadata.jwks_uri;
    if (jwksUri !== undefined) {
      const target = checkTargetUrl(jwksUri, allowPrivate, 'jwks_uri');
      if (!target.ok) throw new InvalidClientMetadata(target.description);
    }
    return verdict.metadata;
  }

  /** RFC 7591 §3: register a client. Public clients with identical metadata get the same client back. */
  router.post('/register', async (ctx) => {
    const body = await readJsonObject(ctx, { limit: config.REGISTRATION_MAX_BODY, error: bodyError });
    const metadata = validated(body);
    const fingerprint = publicClientFingerprint(metadata);
    // A private_key_jwt client authenticates with its own keys: it gets no secret.
    const confidential = metadata.token_endpoint_auth_method === 'client_secret_basic' || metadata.token_endpoint_auth_method === 'client_secret_post';
    const clientSecret = confidential ? randomToken(32) : null;
    const registrationAccessToken = randomToken(32);
    let clientId = fingerprint ? fingerprint.slice(0, 32) : randomToken(16);
    // A conflict decides again: the request is still one registration, and spends each budget once.
    const consumed = new Set<string>();
    const consumeOnce = async (l: RateLimiterMemory | null, key: string) => {
      const spent = `${l?.keyPrefix}|${key}`;
      if (!l || consumed.has(spent)) return;
      consumed.add(spent);
      await consume(l, key);
    };

    for (;;) {
      const command: ClientCommand = {
        type: 'RegisterClient',
        data: {
          clientId,
          metadata,
          fingerprint,
          clientSecretHash: clientSecret ? hashSecret(clientSecret) : null,
          registrationTokenHash: hashSecret(registrationAccessToken),
          issuedAt: Math.floor(Date.now() / 1000),
        },
      };
      const loaded: { client: RegisteredClient | null } = { client: null };
      // A public client is usually known here already (agents register again on every connection): the first try
      // reads this replica's projection. Creating a client and its second registrant are exclusive on its subject,
      // so a stale read ends in a conflict and a retry that reads the stream. The further registrants of a shared
      // client are not (agents connect in parallel); one racing a deletion or an expiry not yet applied here
      // answers for a client that every projection keeps deleted, and /authorize refuses it, so the agent
      // registers afresh. A write need not wait for this replica's projection: the answer is not read from it.
      const registration: AggregateCommand<ClientState> = {
        subject: subjects.client(clientId),
        projectedVersion: () => clients.find(clientId)?.version ?? 0,
        load(version) {
          loaded.client = version === 0 ? null : clients.find(clientId);
          return clientStateOf(loaded.client, registrationTokens);
        },
        async decide(state) {
          if (state.status === 'active') for (const { limiter: l, key } of reregistrationLimiters) await consumeOnce(l, key(clientId, ctx.ip));
          else await consumeOnce(newClientLimiter, `address:${ctx.ip}`);
          return decide(command, state);
        },
      };
      try {
        await executeCommand({ store, projector }, registration, eventContext(ctx, clientId), fingerprint ? { answerWhen: 'recorded' } : { expectedVersion: 0, answerWhen: 'recorded' });
      } catch (err) {
        if (!(err instanceof ClientIdTaken)) throw err;
        clientId = randomToken(16);
        continue;
      }
      const again = loaded.client;
      ctx.status = 201;
      ctx.set('Cache-Control', 'no-store');
      // A shared public client answers with the redirect URIs this registrant sent: they differ from the first
      // registrant's only in loopback ports, and a client checks the answer against the port it listens on.
      ctx.body = clientInformation(
        again?.status === 'active' ? { ...again, metadata: { ...again.metadata, redirect_uris: metadata.redirect_uris } } : { clientId, clientIdIssuedAt: command.data.issuedAt, metadata },
        clientUri(clientId),
        { clientSecret, registrationAccessToken, confidential },
      );
      return;
    }
  });

  /** RFC 7592 §2: every management request carries the registration access token as a Bearer token. */
  async function authorizedClient(ctx: Context): Promise<{ client: RegisteredClient }> {
    const clientId = String(ctx.params.client_id ?? '');
    const token = bearerToken(ctx);
    if (!token) {
      throw new OAuthError('invalid_token', 'A registration access token is required.', 401, { 'WWW-Authenticate': 'Bearer realm="registration"' });
    }
    if (!isSubjectToken(clientId)) throw new InvalidToken('The registration access token is not valid for this client.');
    // The token may be a further registrant's, on the registrants' subject: the projection must have it too.
    const [{ client }] = await Promise.all([loadClient(clientId), catchUpWithSubject(store, projector, subjects.clientRegistrants(clientId))]);
    if (!client || client.status !== 'active' || !registrationTokens.holds(clientId, token)) throw new InvalidToken('The registration access token is not valid for this client.');
    return { client };
  }

  /** The decider's refusals of a management request, as RFC 7592 answers them: a client gone is an invalid token (401); one that may not be changed or deleted, 403 (§2.2/§2.3). */
  function managementError(err: unknown): unknown {
    if (err instanceof ClientNotFound) return new InvalidToken('The registration access token is not valid for this client.');
    if (err instanceof SharedClientLocked) {
      return new OAuthError(
        'access_denied',
        'This public client is shared by several registrations of the same software, so no one of them may change or delete it. Register the new metadata instead: it gets a client of its own.',
        403,
      );
    }
    return err;
  }

  router.get('/register/:client_id', async (ctx) => {
    const { client } = await authorizedClient(ctx);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = clientInformation(client, clientUri(client.clientId), { confidential: client.clientSecretHash !== null });
  });

  router.put('/register/:client_id', async (ctx) => {
    const { client } = await authorizedClient(ctx);
    const body = await readJsonObject(ctx, { limit: config.REGISTRATION_MAX_BODY, error: bodyError });
    if (body.client_id !== client.clientId) throw new InvalidRequest('client_id in the body must equal the client being updated.');
    if (body.client_secret !== undefined) {
      const matches = typeof body.client_secret === 'string' && client.clientSecretHash !== null && secretMatchesHash(body.client_secret, client.clientSecretHash);
      if (!matches) throw new InvalidClientMetadata('client_secret does not match the current secret; it cannot be chosen by the client.');
    }
    const metadata = validated(body);
    const command: ClientCommand = {
      type: 'UpdateClient',
      data: { clientId: client.clientId, metadata, fingerprint: publicClientFingerprint(metadata) },
    };
    try {
      // One try, as for a deletion: a change landing meanwhile (a second registrant sharing it) is a 409.
      await executeClientCommand(commandDeps, command, eventContext(ctx, client.clientId), { attempts: 1 });
    } catch (err) {
      throw managementError(err);
    }
    const updated = clients.active(client.clientId) ?? client;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = clientInformation(updated, clientUri(client.clientId), { confidential: updated.clientSecretHash !== null });
  });

  /** RFC 7592 §2.3. The client's consents and grants end with it: its tokens are refused at once (grantIsActive), and the authorization and token services' policies record their revocation. */
  router.delete('/register/:client_id', async (ctx) => {
    const { client } = await authorizedClient(ctx);
    try {
      await executeClientCommand(commandDeps, { type: 'DeleteClient', data: { clientId: client.clientId } }, eventContext(ctx, client.clientId), { attempts: 1 });
    } catch (err) {
      throw managementError(err);
    }
    ctx.status = 204;
  });

  return router;
}

function eventContext(ctx: Context, clientId: string): { actor: Actor; requestId?: string; sourceAddress?: string } {
  return eventContextOf<Actor>(ctx, { kind: 'client', id: clientId });
}

function bearerToken(ctx: Context): string | null {
  const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(ctx.get('Authorization'));
  return match?.[1] ?? null;
}

function limiter(name: string, perMinute: number): RateLimiterMemory | null {
  return perMinute > 0 ? new RateLimiterMemory({ keyPrefix: name, points: perMinute, duration: 60 }) : null;
}

async function consume(rateLimiter: RateLimiterMemory | null, key: string): Promise<void> {
  if (!rateLimiter) return;
  try {
    await rateLimiter.consume(key);
  } catch (rejection) {
    if (rejection instanceof RateLimiterRes) throw tooManyRequests(Math.ceil(rejection.msBeforeNext / 1000), 'Too many registrations; retry later.');
    throw rejection;
  }
}
