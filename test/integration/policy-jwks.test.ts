import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { UnauthenticatedError } from '../../libs/common/src/index.js';
import { SIGNING_KEY_PATH, TokenVerifier } from '../../libs/policy/src/index.js';

const ISSUER = 'https://idp.bank.test';
const AUDIENCE = 'warden';

interface IdentityProviderKey {
  kid: string;
  alg: 'ES256' | 'RS256' | 'EdDSA';
  privateKey: CryptoKey;
  publicJwk: JWK;
}

async function createKey(kid: string, alg: IdentityProviderKey['alg']): Promise<IdentityProviderKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg === 'EdDSA' ? 'Ed25519' : alg, { extractable: true });
  return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

async function signToken(key: IdentityProviderKey, claims: Record<string, unknown>, kid = key.kid): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, kid })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(key.privateKey);
}

async function expectUnauthenticated(promise: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof UnauthenticatedError, `expected UnauthenticatedError, got ${String(error)}`);
    assert.match(error.message, message);
    return true;
  });
}

describe('TokenVerifier with a remote JWKS', () => {
  let server: Server;
  let baseUrl: string;
  let dataDir: string;
  let jwksRequests = 0;
  const keys: IdentityProviderKey[] = [];
  let unpublishedKey: IdentityProviderKey;

  before(async () => {
    keys.push(await createKey('idp-es256', 'ES256'), await createKey('idp-rs256', 'RS256'), await createKey('idp-ed25519', 'EdDSA'));
    unpublishedKey = await createKey('idp-retired', 'ES256');
    dataDir = mkdtempSync(join(tmpdir(), 'warden-jwks-'));

    server = createServer((request, response) => {
      if (request.url === '/.well-known/jwks.json') {
        jwksRequests += 1;
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ keys: keys.map((key) => key.publicJwk) }));
        return;
      }
      response.writeHead(500, { 'content-type': 'text/plain' });
      response.end('identity provider failure');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dataDir, { recursive: true, force: true });
  });

  function verifierFor(path: string): Promise<TokenVerifier> {
    return TokenVerifier.create({ dataDir, jwksUrl: `${baseUrl}${path}`, jwtIssuer: ISSUER, jwtAudience: AUDIENCE }, { jwksTimeoutMs: 2000 });
  }

  it('accepts ES256, RS256 and EdDSA tokens', async () => {
    const verifier = await verifierFor('/.well-known/jwks.json');
    for (const key of keys) {
      const token = await signToken(key, { sub: `user-${key.alg}`, tenant: 'bank-a', roles: ['reviewer'] });
      assert.deepEqual(await verifier.verify(token), { subject: `user-${key.alg}`, tenant: 'bank-a', roles: ['reviewer'] }, key.alg);
    }
  });

  it('fetches the key set once', async () => {
    const before = jwksRequests;
    const verifier = await verifierFor('/.well-known/jwks.json');
    const token = await signToken(keys[0], { sub: 'u1', tenant: 'bank-a', roles: ['auditor'] });
    await verifier.verify(token);
    await verifier.verify(token);
    await verifier.verify(token);
    assert.equal(jwksRequests - before, 1);
  });

  it('does not create a local key', async () => {
    await verifierFor('/.well-known/jwks.json');
    assert.equal(existsSync(join(dataDir, SIGNING_KEY_PATH)), false);
  });

  it('rejects a key outside the set', async () => {
    const verifier = await verifierFor('/.well-known/jwks.json');
    const token = await signToken(unpublishedKey, { sub: 'u1', tenant: 'bank-a', roles: ['admin'] });
    await expectUnauthenticated(verifier.verify(token), /^The bearer token is signed by a key that is not in the identity provider's key set\.$/);
  });

  it('rejects a forged signature under a known kid', async () => {
    const verifier = await verifierFor('/.well-known/jwks.json');
    const token = await signToken(unpublishedKey, { sub: 'u1', tenant: 'bank-a', roles: ['admin'] }, 'idp-es256');
    await expectUnauthenticated(verifier.verify(token), /^The bearer token signature is invalid\.$/);
  });

  it('rejects an unknown role', async () => {
    const verifier = await verifierFor('/.well-known/jwks.json');
    const token = await signToken(keys[0], { sub: 'u1', tenant: 'bank-a', roles: ['teller'] });
    await expectUnauthenticated(verifier.verify(token), /contains an unknown role/);
  });

  it('rejects when the key set cannot be fetched', async () => {
    const verifier = await verifierFor('/broken/jwks.json');
    const token = await signToken(keys[0], { sub: 'u1', tenant: 'bank-a', roles: ['auditor'] });
    await expectUnauthenticated(verifier.verify(token), /^The identity provider's key set could not be fetched, so the bearer token cannot be verified\. Try again later\.$/);
  });
});
