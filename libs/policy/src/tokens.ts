import { createRemoteJWKSet, errors, jwtVerify, SignJWT, type CryptoKey, type JWK, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { BadUserInputError, UnauthenticatedError, getLogger, type FieldError, type WardenConfig } from '../../common/src/index.js';
import { KNOWN_ROLES, isValidTenant, isWardenRole, type Principal } from './access-catalog.js';
import { loadOrCreateSigningKey, type SigningKey } from './signing-key.js';

/**
 * Request for a bearer token. The token carries `subject` as `sub`, plus `tenant` and `roles`,
 * besides iss, aud, iat and exp.
 */
export interface IssueTokenRequest {
  subject: string;
  tenant: string;
  roles: string[];
  /** Lifetime in seconds; defaults to the issuer's lifetime. */
  ttlSeconds?: number;
  /** Issue time, for tests and for tokens minted ahead; defaults to now. */
  issuedAt?: Date;
}

export interface TokenVerifierOptions {
  /** Allowed clock difference between Warden and the token issuer, in seconds. */
  clockToleranceSeconds?: number;
  /** Timeout of one JWKS request, in milliseconds. */
  jwksTimeoutMs?: number;
}

/** Signature algorithms Warden accepts from an identity provider. */
export const ACCEPTED_TOKEN_ALGORITHMS = ['EdDSA', 'RS256', 'ES256'] as const;

/** Default token lifetime: one working day of 8 hours. */
export const DEFAULT_TOKEN_TTL_SECONDS = 8 * 60 * 60;

/**
 * Maximum length of the subject id in a token, in UTF-16 code units. The subject becomes the
 * actor of ledger entries, so it follows the ledger's limit for actors.
 */
const MAX_SUBJECT_LENGTH = 200;

/** Maximum age of an accepted token, measured from its `iat`, whatever its `exp` states. */
const MAX_TOKEN_AGE = '24h';

/** Tells whether the ledger can record a subject: printable, well-formed text that is not only whitespace. */
function isValidSubject(subject: unknown): subject is string {
  return (
    typeof subject === 'string' &&
    subject.length <= MAX_SUBJECT_LENGTH &&
    subject.trim().length > 0 &&
    subject.isWellFormed() &&
    !/[\u0000-\u001f\u007f]/.test(subject)
  );
}

/** Maximum token length, in characters. Longer inputs are rejected before any parsing. */
const MAX_TOKEN_LENGTH = 16 * 1024;

/** Signs bearer tokens with the embedded Ed25519 key; in production an identity provider does this. */
export class TokenIssuer {
  private constructor(
    private readonly key: SigningKey,
    private readonly issuer: string,
    private readonly audience: string,
    private readonly ttlSeconds: number,
  ) {}

  /** Loads the signing key under `config.dataDir`, creating it on first use. */
  static async open(
    config: Pick<WardenConfig, 'dataDir' | 'jwtIssuer' | 'jwtAudience'>,
    options: { ttlSeconds?: number } = {},
  ): Promise<TokenIssuer> {
    const ttlSeconds = options.ttlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
    const fieldErrors = ttlErrors(ttlSeconds);
    if (fieldErrors.length > 0) throw new BadUserInputError('The token lifetime is invalid.', fieldErrors);
    const key = await loadOrCreateSigningKey(config.dataDir);
    return new TokenIssuer(key, config.jwtIssuer, config.jwtAudience, ttlSeconds);
  }

  /** Key id (JWK thumbprint) that every issued token carries in its header. */
  get kid(): string {
    return this.key.kid;
  }

  /** Public key set to publish, for example at /.well-known/jwks.json. */
  publicJwks(): { keys: JWK[] } {
    return { keys: [{ ...this.key.publicJwk }] };
  }

  /** Signs a token. Raises BadUserInputError naming each invalid field. */
  async issue(request: IssueTokenRequest): Promise<string> {
    const ttlSeconds = request.ttlSeconds ?? this.ttlSeconds;
    const fieldErrors = [...requestErrors(request), ...ttlErrors(ttlSeconds)];
    if (fieldErrors.length > 0) {
      throw new BadUserInputError('The token request is invalid.', fieldErrors);
    }

    const issuedAt = Math.floor((request.issuedAt ?? new Date()).getTime() / 1000);
    return new SignJWT({ tenant: request.tenant, roles: [...new Set(request.roles)] })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid: this.key.kid })
      .setSubject(request.subject)
      .setIssuer(this.issuer)
      .setAudience(this.audience)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + ttlSeconds)
      .sign(this.key.privateKey);
  }
}

/**
 * Verifies bearer tokens and returns the caller they prove. Uses the identity provider's JWKS
 * when `config.jwksUrl` is set, and the embedded signing key otherwise.
 */
export class TokenVerifier {
  private constructor(
    private readonly key: CryptoKey | JWTVerifyGetKey,
    private readonly remote: boolean,
    private readonly issuer: string,
    private readonly audience: string,
    private readonly clockToleranceSeconds: number,
  ) {}

  /**
   * Creates a verifier for the configured key source. In embedded mode this loads the signing
   * key, and creates it when missing, so that the gateway and the `warden token` command share it.
   */
  static async create(
    config: Pick<WardenConfig, 'dataDir' | 'jwksUrl' | 'jwtIssuer' | 'jwtAudience'>,
    options: TokenVerifierOptions = {},
  ): Promise<TokenVerifier> {
    const clockToleranceSeconds = options.clockToleranceSeconds ?? 30;
    if (config.jwksUrl !== undefined) {
      const keySet = createRemoteJWKSet(new URL(config.jwksUrl), { timeoutDuration: options.jwksTimeoutMs ?? 5000 });
      return new TokenVerifier(keySet, true, config.jwtIssuer, config.jwtAudience, clockToleranceSeconds);
    }
    const key = await loadOrCreateSigningKey(config.dataDir);
    return new TokenVerifier(key.publicKey, false, config.jwtIssuer, config.jwtAudience, clockToleranceSeconds);
  }

  /**
   * Verifies signature, algorithm, iss, aud and exp, then the Warden claims. Raises
   * UnauthenticatedError with a message that never contains the token.
   */
  async verify(token: string): Promise<Principal> {
    if (typeof token !== 'string' || token.length === 0) throw new UnauthenticatedError('A bearer token is required.');
    if (token.length > MAX_TOKEN_LENGTH) {
      throw new UnauthenticatedError(`The bearer token is longer than ${MAX_TOKEN_LENGTH} characters.`);
    }

    let payload: JWTPayload;
    try {
      const options = {
        issuer: this.issuer,
        audience: this.audience,
        algorithms: [...ACCEPTED_TOKEN_ALGORITHMS],
        requiredClaims: ['exp', 'iat', 'sub', 'tenant', 'roles'],
        clockTolerance: this.clockToleranceSeconds,
        maxTokenAge: MAX_TOKEN_AGE,
      };
      // jwtVerify has one overload per key kind, so each branch calls it with a typed key.
      ({ payload } =
        typeof this.key === 'function' ? await jwtVerify(token, this.key, options) : await jwtVerify(token, this.key, options));
    } catch (error) {
      throw this.toUnauthenticated(error);
    }

    // jose accepts an iat in the future; such a token would outlive maxTokenAge.
    if (typeof payload.iat === 'number' && payload.iat > Date.now() / 1000 + this.clockToleranceSeconds) {
      throw new UnauthenticatedError('The bearer token is issued in the future.');
    }
    return principalFromPayload(payload);
  }

  private toUnauthenticated(error: unknown): UnauthenticatedError {
    const message = verificationFailureMessage(error, this.issuer, this.audience);
    if (message !== undefined) return new UnauthenticatedError(message);

    // Anything else is a failure to reach or read the key source, not a fault of the token.
    getLogger('policy').warn({ err: { name: (error as Error).name, message: (error as Error).message }, remote: this.remote }, 'token verification failed');
    return new UnauthenticatedError(
      this.remote
        ? "The identity provider's key set could not be fetched, so the bearer token cannot be verified. Try again later."
        : 'The bearer token could not be verified.',
    );
  }
}

/** Maps a jose error to a message that is safe to show the caller, or undefined for other errors. */
function verificationFailureMessage(error: unknown, issuer: string, audience: string): string | undefined {
  if (error instanceof errors.JWTExpired) return 'The bearer token has expired. Request a new token.';
  if (error instanceof errors.JWTClaimValidationFailed) return claimFailureMessage(error, issuer, audience);
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'The bearer token signature is invalid.';
  if (error instanceof errors.JOSEAlgNotAllowed) {
    return `The bearer token is signed with an algorithm Warden does not accept. Use one of ${ACCEPTED_TOKEN_ALGORITHMS.join(', ')}.`;
  }
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
    return "The bearer token is signed by a key that is not in the identity provider's key set.";
  }
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid || error instanceof errors.JOSENotSupported) {
    return 'The bearer token is malformed.';
  }
  return undefined;
}

function claimFailureMessage(error: errors.JWTClaimValidationFailed, issuer: string, audience: string): string {
  if (error.reason === 'missing') return `The bearer token is missing the claim "${error.claim}".`;
  switch (error.claim) {
    case 'iss':
      return `The bearer token was issued by an issuer that Warden does not accept. Expected "${issuer}".`;
    case 'aud':
      return `The bearer token is for another audience. Expected "${audience}".`;
    case 'nbf':
      return 'The bearer token is not valid yet.';
    case 'iat':
      return 'The bearer token is issued in the future.';
    default:
      return `The bearer token claim "${error.claim}" is invalid.`;
  }
}

function principalFromPayload(payload: JWTPayload): Principal {
  const { sub, tenant, roles } = payload;
  if (!isValidSubject(sub)) {
    throw new UnauthenticatedError(
      `The bearer token claim "sub" must be printable text of 1 to ${MAX_SUBJECT_LENGTH} characters that is not only whitespace.`,
    );
  }
  if (typeof tenant !== 'string' || !isValidTenant(tenant)) {
    throw new UnauthenticatedError(
      'The bearer token claim "tenant" must be a tenant id of letters, digits, ".", "_" or "-" (at most 128 characters).',
    );
  }
  if (!Array.isArray(roles) || roles.length === 0 || !roles.every((role) => typeof role === 'string')) {
    throw new UnauthenticatedError('The bearer token claim "roles" must be a non-empty array of role names.');
  }
  // The unknown name itself is not echoed: it comes from the token.
  if (!roles.every((role: string) => isWardenRole(role))) {
    throw new UnauthenticatedError(`The bearer token claim "roles" contains an unknown role. Known roles: ${KNOWN_ROLES.join(', ')}.`);
  }

  return { subject: sub, tenant, roles: [...new Set(roles as string[])] };
}

function requestErrors(request: IssueTokenRequest): FieldError[] {
  const fieldErrors: FieldError[] = [];
  if (!isValidSubject(request.subject)) {
    fieldErrors.push({ field: '/subject', message: `must be printable text of 1 to ${MAX_SUBJECT_LENGTH} characters that is not only whitespace` });
  }
  if (typeof request.tenant !== 'string' || !isValidTenant(request.tenant)) {
    fieldErrors.push({
      field: '/tenant',
      message: 'must be a tenant id of letters, digits, ".", "_" or "-", starting with a letter or digit (at most 128 characters)',
    });
  }
  if (!Array.isArray(request.roles) || request.roles.length === 0) {
    fieldErrors.push({ field: '/roles', message: `must list at least one of ${KNOWN_ROLES.join(', ')}` });
  } else {
    request.roles.forEach((role, index) => {
      if (typeof role !== 'string' || !isWardenRole(role)) {
        fieldErrors.push({ field: `/roles/${index}`, message: `must be one of ${KNOWN_ROLES.join(', ')}` });
      }
    });
  }
  return fieldErrors;
}

/** Maximum lifetime of an issued token, in seconds, because verification rejects tokens older than MAX_TOKEN_AGE. */
const MAX_TTL_SECONDS = 24 * 60 * 60;

function ttlErrors(ttlSeconds: number): FieldError[] {
  if (Number.isInteger(ttlSeconds) && ttlSeconds >= 1 && ttlSeconds <= MAX_TTL_SECONDS) return [];
  return [{ field: '/ttlSeconds', message: `must be a whole number of seconds from 1 to ${MAX_TTL_SECONDS}, got ${ttlSeconds}` }];
}
