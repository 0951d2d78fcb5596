import { HttpError } from '@mcp-auth/http';

/** An OAuth-family error (RFC 6749 §5.2, RFC 7591 §3.2.2, RFC 8707, RFC 7009): `{ error, error_description }`. */
export class OAuthError extends HttpError {
  constructor(
    readonly code: string,
    readonly description: string,
    status = 400,
    headers: Record<string, string> = {},
  ) {
    super(status, { error: code, error_description: description }, headers);
    this.name = 'OAuthError';
  }
}

export class InvalidRequest extends OAuthError {
  constructor(description: string) {
    super('invalid_request', description);
  }
}

/** RFC 6749 §5.2: 401, and a Basic challenge when the client tried Basic authentication. */
export class InvalidClient extends OAuthError {
  constructor(description: string, { basic = false }: { basic?: boolean } = {}) {
    super('invalid_client', description, 401, basic ? { 'WWW-Authenticate': 'Basic realm="token", charset="UTF-8"' } : {});
  }
}

export class InvalidGrant extends OAuthError {
  constructor(description: string) {
    super('invalid_grant', description);
  }
}

export class UnauthorizedClient extends OAuthError {
  constructor(description: string) {
    super('unauthorized_client', description);
  }
}

export class UnsupportedGrantType extends OAuthError {
  constructor(description: string) {
    super('unsupported_grant_type', description);
  }
}

export class UnsupportedTokenType extends OAuthError {
  constructor(description: string) {
    super('unsupported_token_type', description);
  }
}

export class InvalidScope extends OAuthError {
  constructor(description: string) {
    super('invalid_scope', description);
  }
}

export class InvalidTarget extends OAuthError {
  constructor(description: string) {
    super('invalid_target', description);
  }
}

export class InvalidRedirectUri extends OAuthError {
  constructor(description: string) {
    super('invalid_redirect_uri', description);
  }
}

export class InvalidClientMetadata extends OAuthError {
  constructor(description: string) {
    super('invalid_client_metadata', description);
  }
}

/** RFC 6750 §3.1 for the registration management endpoints (RFC 7592 §2.1). */
export class InvalidToken extends OAuthError {
  constructor(description: string, realm = 'registration') {
    super('invalid_token', description, 401, {
      'WWW-Authenticate': `Bearer realm="${realm}", error="invalid_token", error_description="${description.replace(/["\\]/g, '')}"`,
    });
  }
}
