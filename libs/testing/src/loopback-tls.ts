import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type LoopbackCertificate = {
  key: string;
  cert: string;
  /** The certificate as a file: what NODE_EXTRA_CA_CERTS of a process that must trust it points at. */
  certFile: string;
  remove(): void;
};

/**
 * A self-signed certificate for localhost, 127.0.0.1 and ::1, valid for a day, made with openssl: tests serve
 * https from loopback (a client metadata document, say) and the processes that fetch it trust it through
 * NODE_EXTRA_CA_CERTS, which Node reads at start, so the trust is given per process and never globally.
 */
export function loopbackCertificate(): LoopbackCertificate {
  const dir = mkdtempSync(join(tmpdir(), 'loopback-tls-'));
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  // prettier-ignore
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
  ], { stdio: 'pipe' });
  return {
    key: readFileSync(keyFile, 'utf8'),
    cert: readFileSync(certFile, 'utf8'),
    certFile,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
