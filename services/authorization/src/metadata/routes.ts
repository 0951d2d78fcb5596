import Router from '@koa/router';
import { CLIENT_ASSERTION_ALGORITHMS } from '@mcp-auth/oauth';
import type { AuthorizationConfig } from '../config.ts';

/** RFC 8414 authorization server metadata. Every URL comes from configuration: the endpoints live on other services. */
export function authorizationServerMetadata(config: AuthorizationConfig): Record<string, unknown> {
  const authMethods = ['none', 'client_secret_post', 'client_secret_basic', 'private_key_jwt'];
  return {
    issuer: config.ISSUER,
    authorization_endpoint: `${config.ISSUER}/authorize`,
    token_endpoint: `${config.TOKEN_BASE_URL}/token`,
    registration_endpoint: `${config.REGISTRATION_BASE_URL}/register`,
    revocation_endpoint: `${config.TOKEN_BASE_URL}/revoke`,
    introspection_endpoint: `${config.TOKEN_BASE_URL}/introspect`,
    jwks_uri: `${config.TOKEN_BASE_URL}/jwks.json`,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: authMethods,
    // RFC 8414 §2: required once private_key_jwt is listed.
    token_endpoint_auth_signing_alg_values_supported: CLIENT_ASSERTION_ALGORITHMS,
    revocation_endpoint_auth_methods_supported: authMethods,
    revocation_endpoint_auth_signing_alg_values_supported: CLIENT_ASSERTION_ALGORITHMS,
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    scopes_supported: config.SCOPES.map((s) => s.name),
    authorization_response_iss_parameter_supported: true,
    // A client_id may be the https URL of the client's metadata document (draft-ietf-oauth-client-id-metadata-document §6).
    client_id_metadata_document_supported: true,
    service_documentation: `${config.ISSUER}/account`,
  };
}

export function metadataRoutes(config: AuthorizationConfig): Router {
  const router = new Router();
  const body = authorizationServerMetadata(config);
  // RFC 8414 §3: for an issuer with a path, the well-known segment goes between host and path.
  const issuerPath = new URL(config.ISSUER).pathname.replace(/\/$/, '');
  const paths = new Set(['/.well-known/oauth-authorization-server', `/.well-known/oauth-authorization-server${issuerPath}`]);
  for (const path of paths) {
    router.get(path, (ctx) => {
      ctx.set('Cache-Control', 'public, max-age=300');
      ctx.body = body;
    });
  }
  return router;
}
