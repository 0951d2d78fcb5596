import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Webhook signing secrets. The server generates each one (Standard Webhooks form: whsec_ + base64 of
 * random bytes), shows it once to the operator, and keeps it in the event log only encrypted with
 * AES-256-GCM under WEBHOOK_SECRETS_KEY, so every admin replica can sign and the log never holds it in clear.
 *
 * Stored form: "v1.<iv>.<ciphertext>.<tag>" (base64url). The webhook id is authenticated data: a ciphertext
 * copied onto another endpoint does not decrypt there. A new format or key gets a new version prefix.
 */

const VERSION = 'v1';
const SECRET_BYTES = 32;

export function generateSigningSecret(): string {
  return `whsec_${randomBytes(SECRET_BYTES).toString('base64')}`;
}

export function parseSecretsKey(keyBase64: string): Buffer {
  const key = Buffer.from(keyBase64, 'base64');
  if (key.length !== 32) throw new Error('WEBHOOK_SECRETS_KEY must be 32 bytes in base64');
  return key;
}

export function encryptSigningSecret(secret: string, key: Buffer, webhookId: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(`webhook:${webhookId}`, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return [VERSION, iv.toString('base64url'), ciphertext.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
}

/** The secret in clear, or an error if it was encrypted under another key, for another endpoint, or tampered with. */
export function decryptSigningSecret(stored: string, key: Buffer, webhookId: string): string {
  const parts = stored.split('.');
  if (parts.length !== 4 || parts[0] !== VERSION) throw new Error('unknown encrypted secret format');
  const [, iv, ciphertext, tag] = parts as [string, string, string, string];
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), { authTagLength: 16 });
  decipher.setAAD(Buffer.from(`webhook:${webhookId}`, 'utf8'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
}
