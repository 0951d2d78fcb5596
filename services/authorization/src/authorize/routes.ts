import { randomUUID } from 'node:crypto';
import Router from '@koa/router';
import type { Context } from 'koa';
import { isSubjectToken, subjects } from '@mcp-auth/contracts';
import { readForm, eventContextOf, requestOrigin } from '@mcp-auth/http';
import { attachPosition, hashSecret, looksLikeClientIdUrl, randomToken } from '@mcp-auth/oauth';
import { catchUpWithSubject, waitForPosition } from '@mcp-auth/event-sourcing';
import { knownResources } from '../config.ts';
import { currentSession, type CurrentSession } from '../sign-in/sessions.ts';
import type { AuthorizationDeps } from '../web/context.ts';
import { formTargetFor, sendPage } from '@mcp-auth/web';
import { clientDisplayName, consentPage, errorPage, signInPage } from '../web/pages.ts';
import { AUTHORIZATION_PARAMETERS, redirectTo, validateAuthorizationRequest, type AuthorizationRequest, type RequestVerdict, type RequestingClient } from './authorization-request.ts';
import { authorizationStateOf, executeAuthorization } from './authorize-command.ts';
import { ConsentRequired, InvalidScopeSelection, rememberedConsent, requiredScopes, type AuthorizationCommand } from './decider.ts';

export function authorizeRoutes(deps: AuthorizationDeps): Router {
  const { config, store, projector, clients, csrf } = deps;
  const router = new Router();
  const resources = knownResources(config);

  /**
   * Validates the parameters against an authoritative read of the client (waiting for a just-registered one). A
   * client_id that is a metadata document's URL is fetched when needed at GET /authorize ('fetch'); the consent
   * POST uses what is recorded ('recorded'). A document that cannot be used ends on an error page: none of its
   * redirect URIs is trusted.
   */
  async function validate(params: URLSearchParams, ctx: Context, documents: 'fetch' | 'recorded'): Promise<RequestVerdict> {
    const clientId = params.getAll('client_id');
    let client: RequestingClient | null = null;
    if (clientId.length === 1 && looksLikeClientIdUrl(clientId[0]!)) {
      if (documents === 'fetch') {
        const resolution = await deps.clientDocuments.resolve(clientId[0]!, requestOrigin(ctx));
        if (!resolution.ok) return { kind: 'error-page', message: resolution.message };
        client = resolution.client;
      } else {
        client = await deps.clientDocuments.recorded(clientId[0]!);
      }
    } else if (clientId.length === 1 && isSubjectToken(clientId[0]!)) {
      if ((await catchUpWithSubject(store, projector, subjects.client(clientId[0]!))) > 0) client = clients.active(clientId[0]!);
    }
    return validateAuthorizationRequest(params, { client, resources, scopes: config.SCOPES, defaultScopes: config.DEFAULT_SCOPES, strictScopes: config.STRICT_SCOPES });
  }

  function answer(ctx: Context, redirectUri: string, params: Record<string, string | undefined>, afterPost: boolean): void {
    ctx.status = afterPost ? 303 : 302;
    ctx.set('Cache-Control', 'no-store');
    ctx.redirect(redirectTo(redirectUri, { ...params, iss: config.ISSUER }));
  }

  async function issue(ctx: Context, command: AuthorizationCommand, session: CurrentSession, codeSecret: string | null, afterPost: boolean): Promise<void> {
    const { request } = command.data;
    const position = await executeAuthorization(deps, command, eventContextOf(ctx, { kind: 'user' as const, id: session.userId }));
    // The user has just answered the consent page: a consent it recorded is remembered on this replica before the
    // client is sent back, so an authorization that follows at once is not asked again.
    if (afterPost && position !== null) await waitForPosition(projector, position);
    if (command.type === 'ApproveAuthorization' && codeSecret && position !== null) {
      answer(ctx, request.redirectUri, { code: attachPosition(codeSecret, position), state: request.state }, afterPost);
    } else {
      answer(ctx, request.redirectUri, { error: 'access_denied', error_description: 'The user denied the request.', state: request.state }, afterPost);
    }
  }

  function approve(request: AuthorizationRequest, session: CurrentSession, grantedScopes: string[] | null): { command: AuthorizationCommand; codeSecret: string } {
    const codeSecret = randomToken(32);
    return {
      codeSecret,
      command: {
        type: 'ApproveAuthorization',
        data: {
          request,
          userId: session.userId,
          grantedScopes,
          newConsentId: randomToken(16),
          codeHash: hashSecret(codeSecret),
          codeExpiresAt: Math.floor(Date.now() / 1000) + config.AUTHORIZATION_CODE_TTL_SECONDS,
        },
      },
    };
  }

  function showConsent(ctx: Context, request: AuthorizationRequest, session: CurrentSession, params: URLSearchParams, error?: string): void {
    sendPage(ctx, {
      title: 'Allow access?',
      status: error ? 400 : 200,
      formTargets: [formTargetFor(request.redirectUri)],
      body: consentPage({
        csrf: csrf.tokenFor(ctx),
        request,
        hiddenParameters: AUTHORIZATION_PARAMETERS.flatMap((name) => params.getAll(name).map((v) => [name, v] as [string, string])),
        username: session.username,
        scopes: config.SCOPES,
        required: requiredScopes(request, config.DEFAULT_SCOPES),
        preselectOptional: config.OPTIONAL_SCOPES_PRESELECTED,
        ...(error ? { error } : {}),
      }),
    });
  }

  router.get('/authorize', async (ctx) => {
    const params = new URLSearchParams(ctx.querystring);
    const verdict = await validate(params, ctx, 'fetch');
    if (verdict.kind === 'error-page') return sendPage(ctx, { title: 'Error', status: 400, body: errorPage(verdict.message) });
    if (verdict.kind === 'redirect-error') {
      return answer(ctx, verdict.redirectUri, { error: verdict.error, error_description: verdict.description, state: verdict.state }, false);
    }
    const { request } = verdict;
    const session = await currentSession(ctx, deps);
    if (!session) {
      return sendPage(ctx, {
        title: 'Sign in',
        // Signing in may lead straight to the client (remembered consent): CSP form-action must allow it.
        formTargets: [formTargetFor(request.redirectUri)],
        body: signInPage({ csrf: csrf.tokenFor(ctx), returnTo: ctx.url, context: `${clientDisplayName(request.client)} wants to access your account. Sign in to continue.`, client: request.client }),
      });
    }
    if (rememberedConsent(authorizationStateOf(deps, session.userId, request.client.clientId), request)) {
      const { command, codeSecret } = approve(request, session, null);
      try {
        return await issue(ctx, command, session, codeSecret, false);
      } catch (err) {
        if (!(err instanceof ConsentRequired)) throw err;
      }
    }
    showConsent(ctx, request, session, params);
  });

  router.post('/authorize/consent', async (ctx) => {
    const form = await readForm(ctx);
    csrf.verify(ctx, form._csrf);
    const params = new URLSearchParams();
    for (const name of AUTHORIZATION_PARAMETERS) if (form[name] !== undefined) params.set(name, form[name]!);
    const verdict = await validate(params, ctx, 'recorded');
    if (verdict.kind === 'error-page') return sendPage(ctx, { title: 'Error', status: 400, body: errorPage(verdict.message) });
    if (verdict.kind === 'redirect-error') {
      return answer(ctx, verdict.redirectUri, { error: verdict.error, error_description: verdict.description, state: verdict.state }, true);
    }
    const { request } = verdict;
    const session = await currentSession(ctx, deps);
    if (!session) {
      return sendPage(ctx, {
        title: 'Sign in',
        status: 401,
        formTargets: [formTargetFor(request.redirectUri)],
        body: signInPage({ csrf: csrf.tokenFor(ctx), returnTo: `/authorize?${params}`, error: 'Your session ended. Sign in again to continue.', client: request.client }),
      });
    }
    if (form.decision === 'deny') {
      return issue(ctx, { type: 'DenyAuthorization', data: { request, userId: session.userId, denialId: randomUUID() } }, session, null, true);
    }
    if (form.decision !== 'allow') return sendPage(ctx, { title: 'Error', status: 400, body: errorPage('Choose Allow or Deny.') });
    const granted = request.scopes.filter((scope) => form[`scope:${scope}`] === 'on');
    const { command, codeSecret } = approve(request, session, granted);
    try {
      await issue(ctx, command, session, codeSecret, true);
    } catch (err) {
      if (err instanceof InvalidScopeSelection) return showConsent(ctx, request, session, params, err.message);
      throw err;
    }
  });

  return router;
}
