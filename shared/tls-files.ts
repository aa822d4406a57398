import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { PetrelError } from './errors.js';

export interface TlsFiles {
  TLS_CERT?: string | undefined;
  TLS_KEY?: string | undefined;
  TLS_CA?: string | undefined;
}

/**
 * Checks that readable TLS files hold what their variable names: a PEM certificate in
 * TLS_CERT and TLS_CA, a PEM private key in TLS_KEY that belongs to TLS_CERT. Without this,
 * a wrong file fails later with an OpenSSL message naming neither (`PEM routines::no start
 * line`), and a TLS_CA that is no certificate is not noticed until a connection fails.
 */
export function checkTlsFiles(files: TlsFiles, who: string): void {
  const cert = files.TLS_CERT ? certificate('TLS_CERT', files.TLS_CERT, who) : undefined;
  if (files.TLS_CA) certificate('TLS_CA', files.TLS_CA, who);
  if (!files.TLS_KEY) return;
  const path = files.TLS_KEY;
  let key;
  try {
    key = createPrivateKey(readFileSync(path));
  } catch {
    throw wrongFile(who, 'TLS_KEY', path, 'is not a PEM private key');
  }
  if (cert && !cert.checkPrivateKey(key)) {
    throw wrongFile(
      who,
      'TLS_KEY',
      path,
      `is not the key of TLS_CERT=${resolve(files.TLS_CERT ?? '')}`,
    );
  }
}

function certificate(variable: string, path: string, who: string): X509Certificate {
  const text = readFileSync(path, 'latin1');
  try {
    if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no PEM certificate');
    return new X509Certificate(text);
  } catch {
    throw wrongFile(who, variable, path, 'is not a PEM certificate');
  }
}

function wrongFile(who: string, variable: string, path: string, what: string): PetrelError {
  return new PetrelError(
    'ERR_FILE_UNREADABLE',
    `${who}: ${variable}=${resolve(path)} ${what}: set ${variable} to the right file`,
  );
}
