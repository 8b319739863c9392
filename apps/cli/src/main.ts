#!/usr/bin/env node
import 'reflect-metadata';
import { Command } from 'commander';
import { CONFIG_VARIABLES, ConfigError, PolicyFileError, createRootLogger, isWardenError, loadConfig, WARDEN_VERSION } from '../../../libs/common/src/index.js';
import { isPoolWaitTimeout } from '../../../libs/database/src/pool-wait.js';

// Some modules create their logger while they load, and pino throws on a level it does not know.
// So the level is validated and the root logger created with the normalized level before the
// commands are imported. The other variables are checked later, by the commands that use them.
try {
  createRootLogger(loadConfig({ LOG_LEVEL: process.env.LOG_LEVEL }).logLevel);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(2);
}
const { registerCommands } = await import('./commands.js');

const program = new Command();
program
  .name('warden')
  .description('Warden: a governance-first gateway for AI decisions in banks.')
  .version(WARDEN_VERSION)
  .showHelpAfterError()
  .addHelpText(
    'after',
    `\nEnvironment variables:\n${CONFIG_VARIABLES.map((v) => `  ${v.name.padEnd(22)} ${v.description} (default: ${v.fallback})`).join('\n')}`,
  );

registerCommands(program, () => loadConfig());

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof ConfigError || error instanceof PolicyFileError) {
    console.error(error.message);
    process.exit(2);
  }
  if (isWardenError(error)) {
    console.error(`${error.code}: ${error.message}`);
    for (const fieldError of error.fieldErrors) console.error(`  ${fieldError.field}: ${fieldError.message}`);
    process.exit(1);
  }
  if (isPoolWaitTimeout(error)) {
    const check = process.env.DATABASE_URL?.trim()
      ? 'Check that the PostgreSQL server in DATABASE_URL is running and accepts connections'
      : 'The embedded database has one connection, and this command held it for longer than the wait';
    console.error(`warden failed: timed out waiting for a database connection (WARDEN_DB_POOL_WAIT_SECONDS). ${check}, or raise that wait.`);
    process.exit(1);
  }
  console.error(`warden failed: ${explainSystemError(error as NodeJS.ErrnoException)}`);
  process.exit(1);
}

/** Names the setting behind the system errors a user can fix, and returns other messages as they are. */
function explainSystemError(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'EADDRINUSE':
      return `${error.message}. Another process uses that port: stop it, or set PORT (or --port) to a free port.`;
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'ETIMEDOUT':
      return `${error.message}. Check that the PostgreSQL server in DATABASE_URL is running and reachable, or unset DATABASE_URL to use the embedded database.`;
    case '28P01':
    case '28000':
      return `${error.message}. Check the user, password and database name in DATABASE_URL.`;
    case '3D000':
      return `${error.message}. Create it with ${createdbCommand(process.env.DATABASE_URL)}, or fix the database name in DATABASE_URL.`;
    default:
      return error.message;
  }
}

/** Returns the createdb command for the database in `url`, without its password, or a generic one when the URL cannot be read. */
function createdbCommand(url: string | undefined): string {
  try {
    const parsed = new URL(url ?? '');
    const name = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
    const username = decodeURIComponent(parsed.username);
    // Only plain names are shown, so the suggestion is safe to paste into a shell.
    if (![name, parsed.hostname, username].every((part, index) => /^[\w.-]+$/.test(part) || (index > 0 && part === ''))) throw new Error('needs quoting');
    const host = parsed.hostname ? ` -h ${parsed.hostname}` : '';
    const port = parsed.port ? ` -p ${parsed.port}` : '';
    const user = username ? ` -U ${username}` : '';
    return `\`createdb${host}${port}${user} ${name}\``;
  } catch {
    return '`createdb -h HOST -U USER NAME`';
  }
}
