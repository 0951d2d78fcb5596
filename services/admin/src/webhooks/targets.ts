/**
 * Where webhook requests may go: the platform's outbound target policy (libs/outbound), under
 * WEBHOOK_ALLOW_PRIVATE_TARGETS. Refused at registration (checkTargetUrl) and again when the socket connects
 * (guardedLookup), so DNS rebinding gains nothing.
 */
export { MAX_URL_LENGTH, RefusedTarget, checkTargetUrl, describeAddress, guardedLookup, isPublicAddress, type Resolver, type TargetVerdict } from '@mcp-auth/outbound';
