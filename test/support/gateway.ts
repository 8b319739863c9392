import { createRuntime, type WardenRuntime } from '../../libs/decisions/src/index.js';
import { TokenIssuer } from '../../libs/policy/src/index.js';
import { startGateway, type RunningGateway } from '../../apps/gateway/src/gateway.js';
import type { WardenConfig } from '../../libs/common/src/index.js';
import type { DatabaseTarget } from './databases.js';
import { rmSync } from 'node:fs';

/** A running gateway on a fresh database, with a token issuer for its local key. */
export interface TestGateway {
  runtime: WardenRuntime;
  gateway: RunningGateway;
  issuer: TokenIssuer;
  /** Issues a token for one tenant and role set. */
  token(tenant: string, roles: string[], subject?: string): Promise<string>;
  /** Sends one GraphQL request and returns the parsed response body and status. */
  graphql<T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
    token?: string,
  ): Promise<{ status: number; body: { data?: T | null; errors?: { message: string; extensions?: Record<string, unknown> }[] } }>;
  close(): Promise<void>;
}

/**
 * Starts the runtime and the HTTP gateway on port 0 against a fresh database of `target`. The
 * database is opened by the runtime itself, exactly as `warden start` does. `overrides` change the
 * configuration, such as a webhook URL.
 */
export async function startTestGateway(target: DatabaseTarget, overrides: Partial<WardenConfig> = {}): Promise<TestGateway> {
  const probe = await target.open(overrides);
  // The probe created (and for the server, named) a fresh database; close it and let the runtime
  // open the same one, so the runtime owns its connections as in production.
  await probe.database.close();
  const runtime = await createRuntime(probe.config);
  const gateway = await startGateway(runtime, 0);
  const issuer = await TokenIssuer.open(probe.config);

  return {
    runtime,
    gateway,
    issuer,
    token: (tenant, roles, subject = `${roles.join('+')}@${tenant}`) => issuer.issue({ tenant, roles, subject }),
    async graphql(query, variables, token) {
      const response = await fetch(gateway.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ query, variables }),
      });
      return { status: response.status, body: (await response.json()) as never };
    },
    async close() {
      await gateway.close();
      await runtime.close();
      await probe.cleanup().catch(() => rmSync(probe.config.dataDir, { recursive: true, force: true }));
    },
  };
}
