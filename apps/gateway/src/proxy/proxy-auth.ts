import type { Request } from 'express';
import { isWardenError, requestContext } from '../../../../libs/common/src/index.js';
import type { WardenRuntime } from '../../../../libs/decisions/src/index.js';
import { API_KEY_PREFIX, LlmError, unauthenticated } from '../../../../libs/llm/src/index.js';
import type { Principal } from '../../../../libs/policy/src/index.js';

/**
 * Authenticates a proxy request by its `Authorization: Bearer ...` header, which holds either a
 * Warden API key (wdn_...) or a Warden bearer token. The official OpenAI clients send their
 * apiKey this way. Raises a 401 LlmError whose message never contains the credential.
 */
export async function authenticateProxyCaller(runtime: WardenRuntime, request: Request): Promise<Principal> {
  const match = /^Bearer\s+(\S+)$/i.exec(request.header('authorization') ?? '');
  if (!match) throw unauthenticated('Send an API key or bearer token in the Authorization header: "Authorization: Bearer <key>".');
  const credential = match[1];

  let principal: Principal;
  if (credential.startsWith(API_KEY_PREFIX)) {
    const found = await runtime.llm.apiKeys.verify(credential);
    if (!found) throw unauthenticated('The API key is invalid or revoked. Create a new one with warden apikey create.');
    principal = found;
  } else {
    try {
      principal = await runtime.tokens.verify(credential);
    } catch (error) {
      if (isWardenError(error)) throw unauthenticated(error.message);
      throw error;
    }
  }

  const store = requestContext.getStore();
  if (store) {
    store.tenant = principal.tenant;
    store.actor = principal.subject;
  }
  return principal;
}

export function isLlmError(error: unknown): error is LlmError {
  return error instanceof LlmError;
}
