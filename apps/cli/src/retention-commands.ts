import type { Command } from 'commander';
import { BadUserInputError, parseDateOrDateTime, type WardenConfig } from '../../../libs/common/src/index.js';
import { isValidTenant } from '../../../libs/policy/src/index.js';
import { operatorActor, withRuntime } from './cli-runtime.js';

function parseInstant(value: string): Date {
  const date = parseDateOrDateTime(value);
  if (date === undefined) {
    throw new BadUserInputError(`Invalid --as-of "${value}".`, [
      { field: '--as-of', message: 'must be a date that exists, such as 2028-02-01 (midnight UTC), or a time with its zone, such as 2028-02-01T00:00:00Z' },
    ]);
  }
  return date;
}

/** Registers `warden retention ...`, `warden hold ...` and `warden erase`. */
export function registerRetentionCommands(program: Command, loadConfig: () => WardenConfig): void {
  const retention = program.command('retention').description('Retention periods of decision and answer records and of ingested datasets (policies/retention.yaml)');
  retention
    .command('purge')
    .description('Replace records past their retention period with tombstones (digests, ledger entries and proofs remain) and delete ingested rows past theirs')
    .option('--dry-run', 'count the records and rows that are due without changing anything', false)
    .option('--as-of <time>', 'with --dry-run: count what would be due at this ISO time')
    .action(async (options: { dryRun: boolean; asOf?: string }) => {
      const asOf = options.asOf !== undefined ? parseInstant(options.asOf) : undefined;
      if (asOf && !options.dryRun) {
        throw new BadUserInputError('--as-of only previews a purge.', [{ field: '--as-of', message: 'use it together with --dry-run, or omit it to purge as of now' }]);
      }
      await withRuntime(loadConfig, async (runtime) => {
        const results = await runtime.retention.purge({ asOf, dryRun: options.dryRun, actor: operatorActor() });
        console.log(JSON.stringify({ dryRun: options.dryRun, rules: results }, null, 2));
      });
    });

  const hold = program.command('hold').description('Legal holds: records under an active hold are never purged');
  hold
    .command('place')
    .description('Place a legal hold on the records of a tenant, or of one use case of it')
    .requiredOption('--tenant <tenant>', 'tenant whose records are held')
    .option('--use-case <name>', 'hold only this use case (default: every use case of the tenant)')
    .requiredOption('--reason <text>', 'why, such as the investigation or proceeding (10 to 2,000 characters)')
    .action(async (options: { tenant: string; useCase?: string; reason: string }) => {
      if (!isValidTenant(options.tenant)) {
        throw new BadUserInputError(`Invalid --tenant "${options.tenant.slice(0, 64)}".`, [{ field: '--tenant', message: 'must be a tenant id such as bank-a' }]);
      }
      await withRuntime(loadConfig, async (runtime) => {
        const placed = await runtime.retention.placeHold({ tenant: options.tenant, useCase: options.useCase ?? null, reason: options.reason, actor: operatorActor() });
        console.log(JSON.stringify(placed, null, 2));
      });
    });
  hold
    .command('release')
    .description('Release a legal hold; its records become due for purge again under their rule')
    .requiredOption('--id <id>', 'hold id, as printed by warden hold place or list')
    .requiredOption('--reason <text>', 'why the hold ends (10 to 2,000 characters)')
    .action(async (options: { id: string; reason: string }) => {
      await withRuntime(loadConfig, async (runtime) => {
        const released = await runtime.retention.releaseHold({ id: options.id, reason: options.reason, actor: operatorActor() });
        console.log(JSON.stringify(released, null, 2));
      });
    });
  hold
    .command('verify')
    .description("Check a hold's stored reasons against its ledger entries; prints each salt while its reason is kept")
    .requiredOption('--id <id>', 'hold id, as printed by warden hold place or list')
    .action(async (options: { id: string }) => {
      await withRuntime(loadConfig, async (runtime) => {
        const check = await runtime.retention.verifyHold(options.id);
        console.log(JSON.stringify(check, null, 2));
        const checks = [check.placed, check.released].filter((item) => item !== null);
        if (checks.some((item) => item.status === 'differs')) process.exitCode = 4;
      });
    });
  hold
    .command('list')
    .description('List active legal holds')
    .option('--all', 'include released holds', false)
    .action(async (options: { all: boolean }) => {
      await withRuntime(loadConfig, async (runtime) => {
        console.log(JSON.stringify(await runtime.retention.listHolds(options.all), null, 2));
      });
    });

  program
    .command('erase')
    .description('Erase a data subject (GDPR Art. 17) by destroying their key; rejected under a legal hold or inside a retention minimum')
    .requiredOption('--subject <id>', "the subject id the bank application sent, such as the request's applicantId")
    .option('--tenant <tenant>', 'tenant of the subject', 'demo-bank')
    .requiredOption('--reason <text>', 'why, such as the ticket of the erasure request (10 to 2,000 characters; the ledger keeps its HMAC)')
    .action(async (options: { subject: string; tenant: string; reason: string }) => {
      if (!isValidTenant(options.tenant)) {
        throw new BadUserInputError(`Invalid --tenant "${options.tenant.slice(0, 64)}".`, [{ field: '--tenant', message: 'must be a tenant id such as bank-a' }]);
      }
      await withRuntime(loadConfig, async (runtime) => {
        const erased = await runtime.erasure.erase({ tenant: options.tenant, subjectId: options.subject, reason: options.reason, actor: operatorActor() });
        console.log(JSON.stringify(erased, null, 2));
      });
    });
}
