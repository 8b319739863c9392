import type { Command } from 'commander';
import type { WardenConfig } from '../../../libs/common/src/index.js';
import { operatorActor, withRuntime } from './cli-runtime.js';
import { KNOWN_ROLES } from '../../../libs/policy/src/index.js';

/** Registers `warden apikey create|revoke|list`: API keys of the OpenAI-compatible proxy. */
export function registerApiKeyCommands(program: Command, loadConfig: () => WardenConfig): void {
  const apikey = program.command('apikey').description('API keys for the OpenAI-compatible proxy (/v1/*), sent as "Authorization: Bearer wdn_..."');

  apikey
    .command('create')
    .description('Create an API key and print it once; Warden stores only its SHA-256 hash')
    .requiredOption('--tenant <tenant>', 'tenant the key acts for')
    .requiredOption('--role <role...>', `one or more roles: ${KNOWN_ROLES.join(', ')}`)
    .requiredOption('--name <name>', 'name of the key, unique in the tenant, such as loan-assistant')
    .action(async (options: { tenant: string; role: string[]; name: string }) => {
      const roles = options.role.flatMap((role) => role.split(',')).map((role) => role.trim()).filter(Boolean);
      await withRuntime(loadConfig, async (runtime) => {
        const created = await runtime.llm.apiKeys.create({ tenant: options.tenant, roles, name: options.name, actor: operatorActor() });
        console.error(`Created API key "${created.name}" (id ${created.id}) for tenant ${created.tenant} with roles ${created.roles.join(', ')}. Store it now; it cannot be shown again.`);
        console.log(created.key);
      });
    });

  apikey
    .command('revoke')
    .description('Revoke an API key by name; calls with it are rejected with 401')
    .requiredOption('--tenant <tenant>', 'tenant of the key')
    .requiredOption('--name <name>', 'name of the key')
    .action(async (options: { tenant: string; name: string }) => {
      await withRuntime(loadConfig, async (runtime) => {
        console.log(JSON.stringify(await runtime.llm.apiKeys.revoke({ tenant: options.tenant, name: options.name, actor: operatorActor() }), null, 2));
      });
    });

  apikey
    .command('list')
    .description("List a tenant's API keys (names, roles, key prefixes, revocation times) as JSON")
    .requiredOption('--tenant <tenant>', 'tenant of the keys')
    .action(async (options: { tenant: string }) => {
      await withRuntime(loadConfig, async (runtime) => {
        console.log(JSON.stringify(await runtime.llm.apiKeys.list(options.tenant), null, 2));
      });
    });
}
