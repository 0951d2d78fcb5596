import { readFileSync } from 'node:fs';
import { credsAuthenticator, nkeyAuthenticator, type Authenticator, type TlsOptions } from '@nats-io/transport-node';
import { inboxPrefixOf, type NatsIdentity } from '@mcp-auth/contracts';

/** How a process proves who it is to NATS, and how it reaches it: NATS_CREDENTIALS_FILE and NATS_TLS_*. */
export type NatsAccess = {
  /** Which identity of the permission matrix this process is: its inboxes are `_INBOX_<identity>` (NATS's `_INBOX` without one). */
  identity?: NatsIdentity | undefined;
  /** A file holding this identity's credential: an nkey seed (`SU…`), or a `.creds` file (user JWT and seed, made with nsc). */
  credentialsFile?: string | undefined;
  tls?: NatsTlsFiles | undefined;
};

/** PEM files: the CA that signed the server's certificate, and this client's own certificate and key when the server asks for one. */
export type NatsTlsFiles = { ca?: string | undefined; cert?: string | undefined; key?: string | undefined };

/** The credential file cannot be used (missing, unreadable, not a credential). Permanent: a retry cannot fix it. */
export class CredentialFileError extends Error {
  readonly permanent = true;
  constructor(message: string) {
    super(message);
    this.name = 'CredentialFileError';
  }
}

/** NATS refused the connection: no credential, or one it does not know. Permanent: a retry cannot fix it. */
export class NatsAccessRefused extends Error {
  readonly permanent = true;
  constructor(
    readonly credentialsFile: string | undefined,
    options?: ErrorOptions,
  ) {
    super('NATS refused the connection (authorization violation)', options);
    this.name = 'NatsAccessRefused';
  }

  /** One line for an operator, naming the variable to set. */
  hint(variable = 'NATS_CREDENTIALS_FILE', whose = "this service's credential"): string {
    return this.credentialsFile
      ? `${this.message}: ${variable} (${this.credentialsFile}) is not a credential this NATS accepts`
      : `${this.message}: set ${variable} to ${whose}`;
  }
}

const CREDS_JWT = /-----BEGIN NATS USER JWT-----/;
const USER_SEED = /^SU[A-Z2-7]{56}$/;

/** The authenticator for a credential file, told apart by its content: a .creds file, or an nkey user seed. */
export function authenticatorFromFile(file: string): Authenticator {
  let content: string;
  try {
    content = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CredentialFileError(`NATS_CREDENTIALS_FILE (${file}) cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (CREDS_JWT.test(content)) return credsAuthenticator(new TextEncoder().encode(content));
  const seed = content.trim();
  if (USER_SEED.test(seed)) return nkeyAuthenticator(new TextEncoder().encode(seed));
  throw new CredentialFileError(`NATS_CREDENTIALS_FILE (${file}) holds neither an nkey user seed (SU…) nor a .creds file`);
}

/** Connection options of an identity: its inbox prefix, its authenticator and TLS settings when it has them. */
export function natsClientOptions(access: NatsAccess): { inboxPrefix?: string; authenticator?: Authenticator; tls?: TlsOptions } {
  const { ca, cert, key } = access.tls ?? {};
  if (!cert !== !key) throw new CredentialFileError('NATS_TLS_CERT and NATS_TLS_KEY go together: a client certificate needs its key');
  return {
    ...(access.identity ? { inboxPrefix: inboxPrefixOf(access.identity) } : {}),
    ...(access.credentialsFile ? { authenticator: authenticatorFromFile(access.credentialsFile) } : {}),
    ...(ca || cert ? { tls: { ...(ca ? { caFile: ca } : {}), ...(cert ? { certFile: cert, keyFile: key } : {}) } } : {}),
  };
}

type ConsumerApiInternals = { _request(subject: string, data?: unknown, options?: unknown): Promise<unknown> };
const NAMELESS_CREATE = /^\$JS\.API\.CONSUMER\.CREATE\.[^.]+$/;

/**
 * @nats-io/jetstream 3.3 creates a consumer with several filter subjects on the name-less subject
 * `$JS.API.CONSUMER.CREATE.<stream>`. No permission can be scoped to a consumer there, and the server takes a
 * request on it as create-or-update of whatever consumer its body names, durable ones included: whoever may use
 * it can re-filter or break any durable consumer. NATS 2.10 takes the same request on
 * `$JS.API.CONSUMER.CREATE.<stream>.<name>`, which is where this sends it.
 */
export function createConsumersByName<Api>(api: Api): Api {
  const internals = api as unknown as ConsumerApiInternals | undefined;
  if (typeof internals?._request !== 'function') throw new Error('@nats-io/jetstream changed: its consumer API has no _request to send consumer creates by name');
  const request = internals._request.bind(internals);
  internals._request = (subject, data, options) => {
    const name = (data as { config?: { name?: unknown } } | null | undefined)?.config?.name;
    return request(NAMELESS_CREATE.test(subject) && typeof name === 'string' && name !== '' ? `${subject}.${name}` : subject, data, options);
  };
  return api;
}
