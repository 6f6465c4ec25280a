// A self-signed certificate for 127.0.0.1 (openssl), for daemons serving wss://.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCert {
  /** TLS_CERT and TLS_KEY for startDaemon. */
  env: { TLS_CERT: string; TLS_KEY: string };
  /** The certificate, for a client's `ca`. */
  pem: string;
}

export function selfSignedCert(): TestCert {
  const dir = mkdtempSync(join(tmpdir(), 'javascriptd-tls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  return { env: { TLS_CERT: cert, TLS_KEY: key }, pem: readFileSync(cert, 'utf8') };
}
