import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { BadUserInputError, parseDateOrDateTime, WARDEN_VERSION, type WardenConfig } from '../../../libs/common/src/index.js';
import { openDatabase } from '../../../libs/database/src/index.js';
import { createRuntime, requireUseCase, runDemoSetup, runFraudDemoSetup, type DemoSetupResult } from '../../../libs/decisions/src/index.js';
import {
  createExportEvidence,
  exportBundle,
  LedgerVerificationError,
  payloadTextCheckFix,
  readBundleSigners,
  runFullVerification,
  validatePayloadTextCheck,
  verifyBundle,
  type BundleManifest,
} from '../../../libs/audit/src/index.js';
import { generateGermanCredit } from '../../../libs/ingestion/src/index.js';
import { redactText, scanPii } from '../../../libs/guardrails/src/index.js';
import { TokenIssuer, KNOWN_ROLES } from '../../../libs/policy/src/index.js';
import { startGateway, type RunningGateway } from '../../gateway/src/gateway.js';
import { registerRetentionCommands } from './retention-commands.js';
import { registerApiKeyCommands } from './apikey-commands.js';
import { registerDocsCommands } from './docs-commands.js';
import { registerStreamCommands, startConfiguredStreamIngestion } from './stream-commands.js';
import { operatorActor, printJson, withRuntime } from './cli-runtime.js';

const DEFAULT_TENANT = 'demo-bank';

function parseDate(value: string, option: string): Date {
  const date = parseDateOrDateTime(value);
  if (date === undefined) {
    throw new BadUserInputError(`Invalid ${option} "${value}".`, [
      { field: option, message: 'must be a date that exists, such as 2026-12-01 (midnight UTC), or a time with its zone, such as 2026-12-01T08:00:00Z' },
    ]);
  }
  return date;
}

function parsePort(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535) {
    throw new BadUserInputError(`Invalid --port "${value}".`, [{ field: '--port', message: 'must be a whole number from 0 to 65535, where 0 picks a free port' }]);
  }
  return Number(value);
}

/** Registers every `warden` subcommand. */
export function registerCommands(program: Command, loadConfig: () => WardenConfig): void {
  program
    .command('start')
    .description('Start the gateway (embedded database unless DATABASE_URL is set)')
    .option('--demo', 'on first start, generate demo data, ingest it and train the credit and payment-fraud models', false)
    .option('--port <port>', 'HTTP port (overrides PORT)')
    .action(async (options: { demo: boolean; port?: string }) => {
      const config = loadConfig();
      const port = options.port !== undefined ? parsePort(options.port) : config.port;
      const runtime = await createRuntime(config);
      try {
        const demo = options.demo ? await runDemoSetup(runtime, { tenant: DEFAULT_TENANT, actor: operatorActor() }) : undefined;
        const fraudDemo = options.demo ? await runFraudDemoSetup(runtime, { tenant: DEFAULT_TENANT, actor: operatorActor() }) : undefined;
        const gateway = await startGateway(runtime, port);
        runtime.checkpointScheduler.start();
        runtime.chainVerificationScheduler.start();
        runtime.webhookDispatcher.start();
        const streaming = await startConfiguredStreamIngestion(runtime);
        if (fraudDemo?.created) {
          console.log(`payment-fraud demo: model ${fraudDemo.modelVersion} trained on synthetic PaySim-like transactions, ${fraudDemo.reviewCases} review cases opened`);
        } else if (fraudDemo) {
          console.log(`payment-fraud demo: model ${fraudDemo.modelVersion} reused from the data folder`);
        }
        printStartBanner(gateway, demo, runtime.database.mode, config);
        const stop = async (signal: string) => {
          console.log(`\n${signal} received, stopping Warden`);
          await streaming?.close();
          await runtime.checkpointScheduler.stop();
          await runtime.chainVerificationScheduler.stop();
          await gateway.close();
          await runtime.close();
          process.exit(0);
        };
        process.once('SIGINT', () => void stop('SIGINT'));
        process.once('SIGTERM', () => void stop('SIGTERM'));
      } catch (error) {
        await runtime.close();
        throw error;
      }
    });

  program
    .command('migrate')
    .description('Apply pending database migrations and exit')
    .action(async () => {
      const database = await openDatabase(loadConfig());
      const pending = await database.dataSource.showMigrations();
      console.log(pending ? 'migrations still pending' : 'database schema is up to date');
      await database.close();
    });

  program
    .command('ingest')
    .description('Validate a file of records (CSV, JSONL or german.data) and store the good ones')
    .requiredOption('--dataset <name>', 'dataset name, such as german-credit')
    .requiredOption('--file <path>', 'file to ingest')
    .option('--format <format>', 'csv, jsonl or data (the space-separated german.data layout); default: from the file extension')
    .option('--tenant <tenant>', 'tenant that owns the records', DEFAULT_TENANT)
    .action(async (options: { dataset: string; file: string; format?: string; tenant: string }) => {
      await withRuntime(loadConfig, async (runtime) => {
        const result = await runtime.ingestion.ingestFile({
          tenant: options.tenant,
          actor: operatorActor(),
          dataset: options.dataset,
          path: resolve(options.file),
          format: options.format as never,
        });
        printJson(result);
      });
    });

  program
    .command('train')
    .description('Train, export to ONNX and register a model for a use case')
    .requiredOption('--use-case <name>', 'use case, such as credit-application')
    .option('--tenant <tenant>', 'tenant whose ingested records are the training data', DEFAULT_TENANT)
    .action(async (options: { useCase: string; tenant: string }) => {
      await withRuntime(loadConfig, async (runtime) => {
        printJson(await runtime.training.train({ useCase: options.useCase, tenant: options.tenant, actor: operatorActor() }));
      });
    });

  program
    .command('token')
    .description('Print a bearer token signed with the local EdDSA key (embedded mode)')
    .requiredOption('--tenant <tenant>', 'tenant the token acts for')
    .requiredOption('--role <role...>', `one or more roles: ${KNOWN_ROLES.join(', ')}`)
    .option('--subject <subject>', 'subject (user or application id)', 'demo-user')
    .option('--ttl <seconds>', 'lifetime in seconds', '28800')
    .action(async (options: { tenant: string; role: string[]; subject: string; ttl: string }) => {
      const config = loadConfig();
      if (config.jwksUrl) {
        throw new BadUserInputError('WARDEN_JWKS_URL is set, so Warden accepts only tokens from your identity provider; unset it to use local tokens.');
      }
      const issuer = await TokenIssuer.open(config);
      const roles = options.role.flatMap((role) => role.split(',')).map((role) => role.trim()).filter(Boolean);
      console.log(await issuer.issue({ tenant: options.tenant, roles, subject: options.subject, ttlSeconds: Number(options.ttl) }));
    });

  program
    .command('replay')
    .description('Recompute a decision from its lineage; exits 3 when a field differs')
    .argument('<id>', 'decision id')
    .action(async (id: string) => {
      await withRuntime(loadConfig, async (runtime) => {
        const result = await runtime.decisions.replay(undefined, id);
        printJson(result);
        if (!result.identical) process.exitCode = 3;
      });
    });

  program
    .command('review')
    .description('Review queue tools for operators')
    .command('reviewer-labels')
    .description("List the tenant's reviewers who voted on a case, each with their pseudonym in the reviewer label of the review metrics, as JSON")
    .requiredOption('--tenant <tenant>', 'tenant of the reviewers')
    .action(async (options: { tenant: string }) => {
      await withRuntime(loadConfig, async (runtime) => {
        printJson(await runtime.reviews.reviewerLabelsOf(options.tenant));
      });
    });

  const audit = program.command('audit').description('Ledger checks for auditors');
  audit
    .command('verify')
    .description('Recompute the whole ledger hash chain and record a pass as an audit.chain_verified entry, which exports build on; exits 4 naming the first bad seq')
    .option('--no-record', 'only verify: append no audit.chain_verified entry, for read-only use')
    .action(async (options: { record: boolean }) => {
      await withRuntime(loadConfig, async (runtime) => {
        const { verification, recorded } = await runFullVerification(runtime.database.dataSource, {
          trigger: 'cli',
          actor: operatorActor(),
          record: options.record,
          ledger: runtime.ledger,
        });
        printJson(verification);
        if (!verification.ok) {
          console.error(`ledger verification failed at seq ${verification.firstBadSeq}: ${verification.reason}`);
          process.exitCode = 4;
          return;
        }
        if (recorded) console.error(`recorded the verification through seq ${verification.headSeq} as ledger entry seq ${recorded.seq} (audit.chain_verified)`);
      });
    });

  audit
    .command('validate-payload-check')
    .description(
      'Add and validate the constraint that keeps each ledger payload text equal to its jsonb, so verification reads the texts alone; the migration skips the validation on a ledger of more than 1,000,000 entries. Exits 4 when an entry was edited',
    )
    .action(async () => {
      await withRuntime(loadConfig, async (runtime) => {
        const result = await validatePayloadTextCheck(runtime.database.dataSource);
        printJson(result);
        if (result.after.inForce) return;
        process.exitCode = 4;
        if (result.editedEntries) {
          console.error("validation failed: an entry's payload text differs from its jsonb or is not JSON, so it was edited behind the ledger's triggers. Run `warden audit verify` to find it.");
        } else {
          console.error(`the payload text constraint is not in force (${result.after.reason}): ${payloadTextCheckFix(result.after.reason)}`);
        }
      });
    });

  registerCheckpointCommands(audit, loadConfig);
  registerApiKeyCommands(program, loadConfig);

  program
    .command('export')
    .description('Write an export bundle for a use case and period: decisions, their ledger and review entries with a Merkle multiproof, the signed checkpoint, keys, CSV, Parquet, a PDF summary and a manifest')
    .requiredOption('--use-case <name>', 'use case to export')
    .requiredOption('--from <date>', 'start of the period (inclusive), ISO date or time')
    .requiredOption('--to <date>', 'end of the period (exclusive), ISO date or time')
    .requiredOption('--out <dir>', 'folder to write the bundle to')
    .option('--tenant <tenant>', 'export only this tenant (default: every tenant)')
    .option('--outcome <outcome>', 'export only APPROVE, DECLINE or REFER decisions, or ANSWERED answers')
    .option('--full-verification', 'verify the whole ledger chain instead of only the entries after the newest recorded full verification', false)
    .option('--max-verification-age <seconds>', 'oldest recorded full verification, in seconds, that the export builds on before it verifies the whole chain (default: WARDEN_CHAIN_VERIFICATION_MAX_AGE_SECONDS)')
    .action(async (options: ExportCommandOptions) => {
      const from = parseDate(options.from, '--from');
      const to = parseDate(options.to, '--to');
      const maxVerificationAgeSeconds = options.maxVerificationAge === undefined ? undefined : parseSeconds(options.maxVerificationAge, '--max-verification-age');
      await withRuntime(loadConfig, async (runtime) => {
        // Answers are exported like decisions, so an answer use case is a valid choice too.
        if (!runtime.answerUseCases.has(options.useCase)) requireUseCase(runtime.useCases, options.useCase, [...runtime.answerUseCases.keys()]);
        const evidence = createExportEvidence(runtime.checkpoints, runtime.merkle, runtime.checkpointKeys, operatorActor());
        let manifest: BundleManifest;
        try {
          ({ manifest } = await exportBundle(
            runtime.database.dataSource,
            {
              useCase: options.useCase,
              from,
              to,
              outDir: resolve(options.out),
              tenant: options.tenant,
              outcome: options.outcome,
              wardenVersion: WARDEN_VERSION,
              chainCheck: options.fullVerification ? 'full' : 'incremental',
              maxVerificationAgeSeconds: maxVerificationAgeSeconds ?? runtime.config.chainVerificationMaxAgeSeconds,
              actor: operatorActor(),
            },
            evidence,
          ));
        } catch (error) {
          if (!(error instanceof LedgerVerificationError)) throw error;
          const { firstBadSeq, reason } = error.verification;
          console.error(`export rejected: the ledger fails verification at seq ${firstBadSeq}: ${reason}`);
          process.exitCode = 4;
          return;
        }
        printJson(manifest);
      });
    });

  program
    .command('verify-bundle')
    .description('Check an export bundle offline; exits 5 when any check fails, such as a changed byte')
    .argument('<dir>', 'bundle folder')
    .action(async (dir: string) => {
      if (!existsSync(resolve(dir))) {
        throw new BadUserInputError(`Bundle folder ${resolve(dir)} was not found.`, [{ field: 'dir', message: 'must be a folder written by warden export' }]);
      }
      const result = await verifyBundle(resolve(dir));
      // The keys come from the bundle itself, so the ids are printed for comparison with the bank's published keys.
      printJson({ ...result, signedBy: await readBundleSigners(resolve(dir)) });
      if (!result.ok) process.exitCode = 5;
    });

  program
    .command('guard')
    .description('Guardrails that work on text without a database')
    .command('scan')
    .description('Find personal data (IBAN, card, SSN, email, phone, IP, routing number...) in a text; prints the findings and the masked text as JSON')
    .option('--text <text>', 'text to scan; without it the text is read from standard input')
    .action(async (options: { text?: string }) => {
      const text = options.text ?? (await readStandardInput());
      const findings = scanPii(text);
      printJson({ findings, masked: redactText(text, findings, { mode: 'mask' }) });
    });

  program
    .command('demo-data')
    .description('Write synthetic labelled records of the german-credit dataset as JSONL, for warden ingest')
    .option('--rows <n>', 'number of applications', '1000')
    .option('--seed <n>', 'random seed', '42')
    .option('--id-prefix <prefix>', 'prefix of application_id (default: SYN-<seed>-, so each seed has its own keys)')
    .requiredOption('--out <file>', 'JSONL file to write')
    .action((options: { rows: string; seed: string; out: string; idPrefix?: string }) => {
      const keyPrefix = options.idPrefix ?? `SYN-${options.seed}-`;
      const records = generateGermanCredit({ rows: Number(options.rows), seed: Number(options.seed), keyPrefix });
      mkdirSync(dirname(resolve(options.out)), { recursive: true });
      writeFileSync(options.out, records.map((record) => JSON.stringify(record)).join('\n') + '\n');
      console.log(`wrote ${records.length} applications to ${options.out}`);
    });

  registerRetentionCommands(program, loadConfig);
  registerDocsCommands(program, loadConfig);
  registerStreamCommands(program, loadConfig);
}

/** Registers the checkpoint, proof and key commands under `warden audit`. */
function registerCheckpointCommands(audit: Command, loadConfig: () => WardenConfig): void {
  audit
    .command('checkpoint')
    .description('Sign the current size and root of the ledger Merkle tree, store it, publish it to the witnesses, and print it as JSON')
    .action(async () => {
      await withRuntime(loadConfig, async (runtime) => {
        const checkpoint = await runtime.checkpoints.create(operatorActor());
        printJson(checkpoint);
        for (const witness of checkpoint.witnesses.filter((delivery) => delivery.status === 'failed')) {
          console.error(`warning: the checkpoint was stored but not delivered to the ${witness.witness} witness ${witness.target}: ${witness.error}`);
        }
      });
    });

  audit
    .command('proof')
    .description('Print an inclusion proof of a ledger entry against the latest checkpoint, with the checkpoint note and the entry, as JSON')
    .requiredOption('--seq <n>', 'seq of the ledger entry (from 1 to the tree size of the latest checkpoint)')
    .action(async (options: { seq: string }) => {
      const seq = parseWholeNumber(options.seq, '--seq');
      await withRuntime(loadConfig, async (runtime) => {
        printJson(await withCliFieldNames(runtime.checkpoints.inclusionProof(seq), { seq: '--seq' }));
      });
    });

  audit
    .command('consistency')
    .description('Print a consistency proof between two tree sizes of the ledger Merkle tree, as JSON')
    .requiredOption('--from <size>', 'older tree size, from 1')
    .requiredOption('--to <size>', 'newer tree size, at most the tree size of the latest checkpoint')
    .action(async (options: { from: string; to: string }) => {
      const fromSize = parseWholeNumber(options.from, '--from');
      const toSize = parseWholeNumber(options.to, '--to');
      await withRuntime(loadConfig, async (runtime) => {
        printJson(await withCliFieldNames(runtime.checkpoints.consistencyProof(fromSize, toSize), { fromSize: '--from', toSize: '--to' }));
      });
    });

  audit
    .command('rotate-key')
    .description('Create a new checkpoint signing key, publish its public key and retire the old one (old checkpoints still verify)')
    .action(async () => {
      await withRuntime(loadConfig, async (runtime) => {
        const origin = await runtime.checkpoints.logOrigin();
        printJson(await runtime.checkpointKeys.rotate(origin, operatorActor()));
      });
    });

  audit
    .command('keys')
    .description('Print every public key that has signed checkpoints, retired ones included, as JSON')
    .action(async () => {
      await withRuntime(loadConfig, async (runtime) => {
        printJson(await runtime.checkpointKeys.list());
      });
    });
}

interface ExportCommandOptions {
  useCase: string;
  from: string;
  to: string;
  out: string;
  tenant?: string;
  outcome?: 'APPROVE' | 'DECLINE' | 'REFER' | 'ANSWERED';
  fullVerification: boolean;
  maxVerificationAge?: string;
}

function parseSeconds(value: string, option: string): number {
  if (!/^\d{1,15}$/.test(value)) {
    throw new BadUserInputError(`Invalid ${option} "${value}".`, [{ field: option, message: 'must be a whole number of seconds from 0, such as 604800 for 7 days' }]);
  }
  return Number(value);
}

function parseWholeNumber(value: string, option: string): number {
  if (!/^\d{1,15}$/.test(value)) {
    throw new BadUserInputError(`Invalid ${option} "${value}".`, [{ field: option, message: 'must be a whole number from 1' }]);
  }
  return Number(value);
}

/** Renames the field names of a service's BadUserInputError to the command's options. */
async function withCliFieldNames<T>(work: Promise<T>, names: Record<string, string>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (!(error instanceof BadUserInputError)) throw error;
    throw new BadUserInputError(
      error.message,
      error.fieldErrors.map((fieldError) => ({ ...fieldError, field: names[fieldError.field] ?? fieldError.field })),
    );
  }
}

function printStartBanner(gateway: RunningGateway, demo: DemoSetupResult | undefined, mode: string, config: WardenConfig): void {
  const { graphqlUrl } = gateway;
  const token = demo?.token;
  const lines = [
    '',
    `Warden is running (${mode} database${mode === 'embedded' ? ` in ${config.dataDir}` : ''}).`,
    `GraphQL: ${graphqlUrl}`,
    `Reviewer web app: ${gateway.url}/review/`,
  ];
  if (demo) {
    lines.push('', `Reviewer tokens (tenant ${DEFAULT_TENANT}, valid for 8 hours; paste one into the reviewer web app):`);
    for (const reviewer of demo.reviewerTokens) lines.push(`  ${reviewer.subject} (${reviewer.role}): ${reviewer.token}`);
    if (demo.reviewCases > 0) lines.push(`The demo decisions opened ${demo.reviewCases} review cases.`);
  }
  if (token) {
    lines.push(
      '',
      'Demo token (tenant demo-bank, role application), valid for 8 hours:',
      `export WARDEN_TOKEN=${token}`,
      '',
      'Sample request:',
      `curl -s ${graphqlUrl} -H 'content-type: application/json' -H "authorization: Bearer $WARDEN_TOKEN" \\`,
      `  -d '{"query":"mutation($i: DecideInput!){ decide(input:$i){ id outcome score reasonCodes{code description contribution} modelVersion reviewStatus ledgerSeq ledgerHash } }","variables":{"i":{"useCase":"credit-application","application":${JSON.stringify(SAMPLE_APPLICATION)}}}}'`,
      '',
      'Stop with Ctrl+C.',
    );
  }
  console.log(lines.join('\n'));
}

/** A plausible application with the German Credit schema, used in the start banner. */
export const SAMPLE_APPLICATION = {
  checking_status: 'A11',
  duration_months: 36,
  credit_history: 'A32',
  purpose: 'A43',
  credit_amount: 6000,
  savings_status: 'A61',
  employment_since: 'A72',
  installment_rate_pct: 4,
  other_debtors: 'A101',
  residence_since: 2,
  property: 'A123',
  age_years: 29,
  other_installment_plans: 'A143',
  housing: 'A151',
  existing_credits: 1,
  job: 'A173',
  num_dependents: 1,
  telephone: 'A191',
};

/** Reads standard input to the end as UTF-8 text. */
async function readStandardInput(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
