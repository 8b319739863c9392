import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, decodeJwt, decodeProtectedHeader } from 'jose';
import { BadUserInputError, FailedPreconditionError, UnauthenticatedError } from '../../common/src/index.js';
import { SIGNING_KEY_PATH, loadOrCreateSigningKey } from './signing-key.js';
import { TokenIssuer, TokenVerifier } from './tokens.js';

const CONFIG = { jwtIssuer: 'warden-local', jwtAudience: 'warden', jwksUrl: undefined };

/** Asserts that `promise` rejects with UnauthenticatedError whose message matches and omits the token. */
async function assertRejectsToken(promise: Promise<unknown>, token: string, message: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof UnauthenticatedError, `expected UnauthenticatedError, got ${String(error)}`);
    assert.equal(error.code, 'UNAUTHENTICATED');
    assert.match(error.message, message);
    assert.ok(!error.message.includes(token), 'the message contains the token');
    assert.ok(!error.message.includes(token.split('.')[1] ?? token), 'the message contains the token payload');
    return true;
  });
}

/** Re-encodes a token's payload without signing it again. */
function withPayload(token: string, changes: Record<string, unknown>): string {
  const [header, payload, signature] = token.split('.');
  const claims = { ...JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')), ...changes };
  return [header, Buffer.from(JSON.stringify(claims)).toString('base64url'), signature].join('.');
}

describe('TokenIssuer and TokenVerifier', () => {
  let dataDir: string;
  let issuer: TokenIssuer;
  let verifier: TokenVerifier;
  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'warden-tokens-'));
    issuer = await TokenIssuer.open({ ...CONFIG, dataDir });
    verifier = await TokenVerifier.create({ ...CONFIG, dataDir });
  });
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('round-trips a principal', async () => {
    const token = await issuer.issue({ subject: 'credit-app', tenant: 'bank-a', roles: ['application', 'analyst'] });
    const principal = await verifier.verify(token);
    assert.deepEqual(principal, { subject: 'credit-app', tenant: 'bank-a', roles: ['application', 'analyst'] });
  });

  it('signs with EdDSA and the key thumbprint', async () => {
    const token = await issuer.issue({ subject: 'u1', tenant: 'bank-a', roles: ['auditor'] });
    const header = decodeProtectedHeader(token);
    assert.equal(header.alg, 'EdDSA');
    assert.equal(header.typ, 'JWT');
    assert.equal(header.kid, issuer.kid);
    assert.match(issuer.kid, /^[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(issuer.publicJwks().keys.map((key) => key.kid), [issuer.kid]);
    assert.equal(issuer.publicJwks().keys[0].d, undefined);
  });

  it('sets iss, aud and an 8 hour lifetime', async () => {
    const issuedAt = new Date('2030-01-01T00:00:00Z');
    const claims = decodeJwt(await issuer.issue({ subject: 'u1', tenant: 'bank-a', roles: ['auditor'], issuedAt }));
    assert.equal(claims.iss, 'warden-local');
    assert.equal(claims.aud, 'warden');
    assert.equal(claims.sub, 'u1');
    assert.equal(claims.iat, 1893456000);
    assert.equal(claims.exp, 1893456000 + 8 * 3600);
    assert.equal(claims.tenant, 'bank-a');
    assert.deepEqual(claims.roles, ['auditor']);
  });

  it('honours a custom lifetime', async () => {
    const claims = decodeJwt(await issuer.issue({ subject: 'u1', tenant: 'bank-a', roles: ['auditor'], ttlSeconds: 600 }));
    assert.equal((claims.exp ?? 0) - (claims.iat ?? 0), 600);
  });

  it('stores the key with mode 0600', () => {
    const path = join(dataDir, SIGNING_KEY_PATH);
    assert.equal(statSync(path).mode & 0o777, 0o600);
  });

  it('reuses the stored key', async () => {
    const again = await TokenIssuer.open({ ...CONFIG, dataDir });
    assert.equal(again.kid, issuer.kid);
    const token = await again.issue({ subject: 'u1', tenant: 'bank-a', roles: ['reviewer'] });
    assert.equal((await verifier.verify(token)).subject, 'u1');
  });

  it('rejects an expired token', async () => {
    const issuedAt = new Date(Date.now() - 10 * 3600 * 1000);
    const token = await issuer.issue({ subject: 'u1', tenant: 'bank-a', roles: ['auditor'], issuedAt });
    await assertRejectsToken(verifier.verify(token), token, /^The bearer token has expired\. Request a new token\.$/);
  });

  it('rejects a wrong audience', async () => {
    const token = await issuer.issue({ subject: 'u1', tenant: 'bank-a', roles: ['auditor'] });
    const other = await TokenVerifier.create({ ...CONFIG, dataDir, jwtAudience: 'payments' });
    await assertRejectsToken(other.verify(token), token, /is for another audience\. Expected "payments"/);
  });

  it('rejects a wrong issuer', async () => {
    const token = await issuer.issue({ subject: 'u1', tenant: 'bank-a', roles: ['auditor'] });
    const other = await TokenVerifier.create({ ...CONFIG, dataDir, jwtIssuer: 'https://idp.bank.test' });
    await assertRejectsToken(other.verify(token), token, /issuer that Warden does not accept/);
  });

  it('rejects a tampered payload', async () => {
    const token = await issuer.issue({ subject: 'u1', tenant: 'bank-a', roles: ['reviewer'] });
    const tampered = withPayload(token, { roles: ['admin'] });
    assert.notEqual(tampered, token);
    await assertRejectsToken(verifier.verify(tampered), tampered, /^The bearer token signature is invalid\.$/);
  });

  it('rejects a token of another key', async () => {
    const otherDir = mkdtempSync(join(tmpdir(), 'warden-tokens-'));
    try {
      const otherIssuer = await TokenIssuer.open({ ...CONFIG, dataDir: otherDir });
      assert.notEqual(otherIssuer.kid, issuer.kid);
      const token = await otherIssuer.issue({ subject: 'u1', tenant: 'bank-a', roles: ['admin'] });
      await assertRejectsToken(verifier.verify(token), token, /^The bearer token signature is invalid\.$/);
    } finally {
      rmSync(otherDir, { recursive: true, force: true });
    }
  });

  it('rejects an HS256 token', async () => {
    const token = await new SignJWT({ tenant: 'bank-a', roles: ['admin'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('u1')
      .setIssuer('warden-local')
      .setAudience('warden')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('a-shared-secret-of-32-bytes-long'));
    await assertRejectsToken(verifier.verify(token), token, /algorithm Warden does not accept\. Use one of EdDSA, RS256, ES256/);
  });

  it('rejects an unsigned token', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url');
    const payload = Buffer.from(
      JSON.stringify({ sub: 'u1', tenant: 'bank-a', roles: ['admin'], iss: 'warden-local', aud: 'warden', exp: 4102444800 }),
    ).toString('base64url');
    const token = `${header}.${payload}.`;
    await assertRejectsToken(verifier.verify(token), token, /algorithm Warden does not accept/);
  });

  it('rejects a malformed token', async () => {
    await assertRejectsToken(verifier.verify('not-a-jwt'), 'not-a-jwt', /^The bearer token is malformed\.$/);
    await assertRejectsToken(verifier.verify(''), 'not-a-jwt', /^A bearer token is required\.$/);
    const long = 'a'.repeat(20_000);
    await assertRejectsToken(verifier.verify(long), long, /longer than 16384 characters/);
  });

  describe('claims signed with the right key', () => {
    async function sign(claims: Record<string, unknown>): Promise<string> {
      const key = await loadOrCreateSigningKey(dataDir);
      return new SignJWT(claims)
        .setProtectedHeader({ alg: 'EdDSA', kid: key.kid })
        .setIssuer('warden-local')
        .setAudience('warden')
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(key.privateKey);
    }

    /** Signs valid claims with `iat` and `exp` given in seconds from now. */
    async function signAt(issuedAtOffset: number, expiresAtOffset: number): Promise<string> {
      const key = await loadOrCreateSigningKey(dataDir);
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ sub: 'u1', tenant: 'bank-a', roles: ['auditor'] })
        .setProtectedHeader({ alg: 'EdDSA', kid: key.kid })
        .setIssuer('warden-local')
        .setAudience('warden')
        .setIssuedAt(now + issuedAtOffset)
        .setExpirationTime(now + expiresAtOffset)
        .sign(key.privateKey);
    }

    it('rejects a token issued in the future', async () => {
      const year = 365 * 24 * 3600;
      const token = await signAt(10 * year, 11 * year);
      await assertRejectsToken(verifier.verify(token), token, /issued in the future/);
    });

    it('rejects a token older than a day', async () => {
      const token = await signAt(-25 * 3600, 3600);
      await assertRejectsToken(verifier.verify(token), token, /^The bearer token has expired\. Request a new token\.$/);
    });

    it('rejects a subject the ledger cannot record', async () => {
      for (const sub of ['x'.repeat(201), '   ', 'line\nbreak', 'nul\u0000']) {
        const token = await sign({ sub, tenant: 'bank-a', roles: ['auditor'] });
        await assertRejectsToken(verifier.verify(token), token, /claim "sub" must be printable text/);
      }
    });

    it('rejects a missing tenant', async () => {
      const token = await sign({ sub: 'u1', roles: ['auditor'] });
      await assertRejectsToken(verifier.verify(token), token, /^The bearer token is missing the claim "tenant"\.$/);
    });

    it('rejects missing roles', async () => {
      const token = await sign({ sub: 'u1', tenant: 'bank-a' });
      await assertRejectsToken(verifier.verify(token), token, /missing the claim "roles"/);
    });

    it('rejects a missing subject', async () => {
      const token = await sign({ tenant: 'bank-a', roles: ['auditor'] });
      await assertRejectsToken(verifier.verify(token), token, /missing the claim "sub"/);
    });

    it('rejects an unknown role', async () => {
      const token = await sign({ sub: 'u1', tenant: 'bank-a', roles: ['auditor', 'root'] });
      await assertRejectsToken(
        verifier.verify(token),
        token,
        /^The bearer token claim "roles" contains an unknown role\. Known roles: application, analyst, reviewer, senior-reviewer, auditor, admin\.$/,
      );
    });

    it('rejects roles that are not a list', async () => {
      const token = await sign({ sub: 'u1', tenant: 'bank-a', roles: 'admin' });
      await assertRejectsToken(verifier.verify(token), token, /"roles" must be a non-empty array/);
      const empty = await sign({ sub: 'u1', tenant: 'bank-a', roles: [] });
      await assertRejectsToken(verifier.verify(empty), empty, /"roles" must be a non-empty array/);
    });

    it('rejects the all-tenants domain', async () => {
      const token = await sign({ sub: 'u1', tenant: '*', roles: ['admin'] });
      await assertRejectsToken(verifier.verify(token), token, /claim "tenant" must be a tenant id/);
    });

    it('drops repeated roles', async () => {
      const token = await sign({ sub: 'u1', tenant: 'bank-a', roles: ['auditor', 'auditor'] });
      assert.deepEqual((await verifier.verify(token)).roles, ['auditor']);
    });
  });
});

describe('TokenIssuer.issue input checks', () => {
  let dataDir: string;
  before(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'warden-tokens-'));
  });
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('names every invalid field', async () => {
    const issuer = await TokenIssuer.open({ ...CONFIG, dataDir });
    await assert.rejects(issuer.issue({ subject: '', tenant: 'bank a', roles: ['auditor', 'root'], ttlSeconds: Number.NaN }), (error: unknown) => {
      assert.ok(error instanceof BadUserInputError);
      assert.deepEqual(
        error.fieldErrors.map((fieldError) => fieldError.field),
        ['/subject', '/tenant', '/roles/1', '/ttlSeconds'],
      );
      return true;
    });
  });

  it('rejects an empty role list', async () => {
    const issuer = await TokenIssuer.open({ ...CONFIG, dataDir });
    await assert.rejects(issuer.issue({ subject: 'u1', tenant: 'bank-a', roles: [] }), (error: unknown) => {
      assert.ok(error instanceof BadUserInputError);
      assert.deepEqual(error.fieldErrors, [{ field: '/roles', message: 'must list at least one of application, analyst, reviewer, senior-reviewer, auditor, admin' }]);
      return true;
    });
  });
});

describe('loadOrCreateSigningKey', () => {
  it('rejects a key readable by others', async (context) => {
    if (process.platform === 'win32') return context.skip('POSIX file modes only');
    const dataDir = mkdtempSync(join(tmpdir(), 'warden-tokens-'));
    try {
      await loadOrCreateSigningKey(dataDir);
      chmodSync(join(dataDir, SIGNING_KEY_PATH), 0o644);
      await assert.rejects(loadOrCreateSigningKey(dataDir), (error: unknown) => {
        assert.ok(error instanceof FailedPreconditionError);
        assert.match(error.message, /is readable by other users\. Run chmod 600 on it\./);
        return true;
      });
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('gives concurrent callers one key', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'warden-tokens-'));
    try {
      const keys = await Promise.all([1, 2, 3, 4].map(() => loadOrCreateSigningKey(dataDir)));
      assert.equal(new Set(keys.map((key) => key.kid)).size, 1);
      assert.ok(existsSync(join(dataDir, SIGNING_KEY_PATH)));
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
