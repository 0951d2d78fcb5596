import { subjects, type EventContext } from '@mcp-auth/contracts';
import { executeCommand } from '@mcp-auth/event-sourcing';
import type { AuthorizationDeps } from '../web/context.ts';
import { decide, type AuthorizationCommand, type AuthorizationState } from './decider.ts';

type AuthorizeDeps = Pick<AuthorizationDeps, 'config' | 'store' | 'projector' | 'consents'>;

/** What an authorization is decided on: the user's active consents to the client, from this replica's projection. */
export function authorizationStateOf({ config, consents }: AuthorizeDeps, userId: string, clientId: string): AuthorizationState {
  return { consents: consents.activeForClient(userId, clientId), rememberConsent: config.REMEMBER_CONSENT, defaultScopes: config.DEFAULT_SCOPES };
}

/**
 * An approval or a denial, exclusive on the code or the denial it creates: that subject must be empty, so a
 * (vanishingly unlikely) hash collision can never overwrite another code. The answer goes out once recorded: the
 * code carries its position, which the token service waits for.
 */
export function executeAuthorization(deps: AuthorizeDeps, command: AuthorizationCommand, context: EventContext): Promise<number | null> {
  const { request, userId } = command.data;
  const subject = command.type === 'ApproveAuthorization' ? subjects.authorizationCode(command.data.codeHash) : subjects.authorizationDenial(command.data.denialId);
  const authorization = { subject, load: () => authorizationStateOf(deps, userId, request.client.clientId), decide: (state: AuthorizationState) => decide(command, state) };
  return executeCommand(deps, authorization, context, { expectedVersion: 0, answerWhen: 'recorded' });
}
