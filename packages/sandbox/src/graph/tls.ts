/**
 * A throwaway TLS certificate for the Graph emulator, and a way to trust it in this process only.
 *
 * Why HTTPS at all: the Graph client's AuthenticationHandler only attaches the bearer token to
 * `https://` URLs of Graph or of `customHosts`, so an http emulator would never see a token.
 *
 * Why `tls.setDefaultCACertificates`: Node's `fetch` (used by the Graph client) and `https.request`
 * (used by MSAL's default network client) both build their TLS contexts from the process default
 * CA list when no `ca` is given. Node 22.19/24.5+ lets us replace that list at run time; we append
 * the throwaway certificate to the bundled Mozilla roots (and any NODE_EXTRA_CA_CERTS), so
 * verification stays on for every host, and nothing else changes: no
 * NODE_TLS_REJECT_UNAUTHORIZED=0, no custom agents inside the code under test.
 */
import { randomUUID } from 'node:crypto';
import tls from 'node:tls';
import { generate } from 'selfsigned';

export interface ThrowawayCertificate {
  /** PEM certificate (also the trust anchor: it is self-signed). */
  cert: string;
  /** PEM private key. */
  key: string;
}

/** A fresh self-signed certificate for `hostname` (plus 127.0.0.1 and ::1), valid for two days. */
export async function createThrowawayCertificate(hostname = 'localhost'): Promise<ThrowawayCertificate> {
  const notBeforeDate = new Date(Date.now() - 60_000);
  const notAfterDate = new Date(Date.now() + 2 * 24 * 3600_000);
  // A unique subject per certificate: OpenSSL finds a trust anchor by its subject name, so two
  // throwaway certificates both named "localhost" in one process would shadow each other.
  // The host name is checked against the subjectAltName.
  const subject = `wabridge sandbox ${randomUUID()}`;
  const pems = await generate([{ name: 'commonName', value: subject }], {
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: hostname },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

const trusted = new Set<string>();

/**
 * Adds `certPem` to this process's default CA list (idempotent). Affects TLS connections made
 * from now on in this process only; verification stays enabled.
 */
export function trustCertificateInProcess(certPem: string): void {
  const normalized = certPem.trim();
  if (trusted.has(normalized)) return;
  trusted.add(normalized);
  const current = tls.getCACertificates('default');
  tls.setDefaultCACertificates([...current, normalized]);
}
