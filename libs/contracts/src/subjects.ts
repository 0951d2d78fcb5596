/**
 * One stream holds every event; subjects are events.<context>.<aggregate>.<id>.
 * The event type lives in the payload (and a header), never in the subject, so that
 * optimistic concurrency on an aggregate's subject covers every kind of event it has.
 */
export const STREAM_NAME = 'EVENTS';
export const STREAM_SUBJECTS = 'events.>';

const SUBJECT_TOKEN = /^[A-Za-z0-9_-]{1,128}$/;

export function isSubjectToken(value: string): boolean {
  return SUBJECT_TOKEN.test(value);
}

function subject(context: string, aggregate: string, id: string): string {
  if (!isSubjectToken(id)) {
    throw new TypeError(`"${id.slice(0, 40)}" cannot be an aggregate id in a subject`);
  }
  return `events.${context}.${aggregate}.${id}`;
}

export const subjects = {
  client: (clientId: string) => subject('registration', 'client', clientId),
  user: (userId: string) => subject('authorization', 'user', userId),
  consent: (consentId: string) => subject('authorization', 'consent', consentId),
  authorizationCode: (codeHash: string) => subject('authorization', 'code', codeHash),
  authorizationDenial: (denialId: string) => subject('authorization', 'denial', denialId),
  grant: (grantId: string) => subject('token', 'grant', grantId),
  signingKey: (kid: string) => subject('token', 'key', kid),
  toolInvocation: (invocationId: string) => subject('mcp', 'invocation', invocationId),
  note: (noteId: string) => subject('mcp', 'note', noteId),
};
