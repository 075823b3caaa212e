/**
 * A self-signed certificate for TLS tests (the edge's https://, coturn's turns:), made by openssl as an
 * operator would make a stand-in before their real one, named `fullchain.pem` and `privkey.pem` as
 * certbot names them. `spki` is what Chromium's --ignore-certificate-errors-spki-list takes, so the
 * browser trusts exactly this certificate (a secure context, not a clicked-through warning).
 */
import { spawnSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface TestCertificate {
  dir: string;
  cert: string;
  key: string;
  /** base64(SHA-256(SubjectPublicKeyInfo)). */
  spki: string;
}

export function selfSignedCertificate(dir: string, hostname: string, ips: string[] = ['127.0.0.1']): TestCertificate {
  fs.mkdirSync(dir, { recursive: true });
  const cert = path.join(dir, 'fullchain.pem');
  const key = path.join(dir, 'privkey.pem');
  const san = [`DNS:${hostname}`, ...ips.map((ip) => `IP:${ip}`)].join(',');
  const out = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${hostname}`,
      '-addext',
      `subjectAltName=${san}`,
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { encoding: 'utf8' },
  );
  if (out.status !== 0) throw new Error(`openssl could not make a certificate: ${out.stderr}`);
  // Readable by the unprivileged users nginx's workers and coturn run as.
  fs.chmodSync(dir, 0o755);
  fs.chmodSync(key, 0o644);
  const spkiDer = new X509Certificate(fs.readFileSync(cert)).publicKey.export({ type: 'spki', format: 'der' });
  return { dir, cert, key, spki: createHash('sha256').update(spkiDer).digest('base64') };
}
