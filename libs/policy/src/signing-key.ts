import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { createPrivateFileOnce, FailedPreconditionError, getLogger, readPrivateFile } from '../../common/src/index.js';

/** Ed25519 key pair that signs bearer tokens in embedded mode. */
export interface SigningKey {
  /** RFC 7638 JWK thumbprint (SHA-256, base64url) of the public key; the `kid` of every token. */
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** Public key as a JWK with `kid`, `alg` and `use`, ready to publish in a JWKS. */
  publicJwk: JWK;
}

/** Location of the private key under the data folder. */
export const SIGNING_KEY_PATH = join('keys', 'jwt-ed25519.private.jwk.json');

/**
 * Loads the token signing key from `<dataDir>/keys/jwt-ed25519.private.jwk.json`, or creates it
 * there with file mode 0600 when the file does not exist. Two processes that start together
 * end up with the same key: the key is written to a temporary file and hard-linked into place,
 * which fails for the second writer, so no process reads a half-written file.
 */
export async function loadOrCreateSigningKey(dataDir: string): Promise<SigningKey> {
  const path = join(dataDir, SIGNING_KEY_PATH);
  const existing = await readKeyFile(path);
  if (existing !== undefined) return importSigningKey(existing, path);

  const { privateKey } = await generateKeyPair('Ed25519', { extractable: true });
  const privateJwk = await exportJWK(privateKey);
  if (!(await createPrivateFileOnce(path, `${JSON.stringify(privateJwk, null, 2)}\n`))) {
    // Another process created the key first; everyone uses that one.
    const written = await readKeyFile(path);
    if (written === undefined) throw new FailedPreconditionError(`The token signing key ${path} vanished while it was created. Try again.`);
    return importSigningKey(written, path);
  }

  const key = await importSigningKey(privateJwk, path);
  getLogger('policy').info({ path, kid: key.kid }, 'created token signing key');
  return key;
}

async function readKeyFile(path: string): Promise<JWK | undefined> {
  const text = await readPrivateFile(path, 'token signing key');
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as JWK;
  } catch {
    throw new FailedPreconditionError(`The token signing key ${path} is not valid JSON. Delete it to create a new key.`);
  }
}

async function importSigningKey(jwk: JWK, path: string): Promise<SigningKey> {
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string' || typeof jwk.d !== 'string') {
    throw new FailedPreconditionError(`The token signing key ${path} is not an Ed25519 private JWK. Delete it to create a new key.`);
  }

  const publicPart: JWK = { kty: 'OKP', crv: 'Ed25519', x: jwk.x };
  // The kid is derived again on every load, so an edited `kid` field in the file cannot mislead.
  const kid = await calculateJwkThumbprint(publicPart, 'sha256');
  const privateKey = await importJWK({ ...publicPart, d: jwk.d }, 'EdDSA');
  const publicKey = await importJWK(publicPart, 'EdDSA');
  return {
    kid,
    privateKey: privateKey as CryptoKey,
    publicKey: publicKey as CryptoKey,
    publicJwk: { ...publicPart, kid, alg: 'EdDSA', use: 'sig' },
  };
}
