#!/usr/bin/env node
import 'reflect-metadata';
import { Command, Option } from 'commander';
import { CONFIG_VARIABLES, ConfigError, isWardenError, loadConfig } from '../../../libs/common/src/index.js';
import { registerCommands } from './commands.js';

const program = new Command();
program
  .name('warden')
  .description('Warden: a governance-first gateway for AI decisions in banks.')
  .version(process.env.npm_package_version ?? '0.1.0')
  .showHelpAfterError()
  .addHelpText(
    'after',
    `\nEnvironment variables:\n${CONFIG_VARIABLES.map((v) => `  ${v.name.padEnd(22)} ${v.description} (default: ${v.fallback})`).join('\n')}`,
  );

registerCommands(program, () => loadConfig());

program.addOption(new Option('--no-color', 'plain output').hideHelp());

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(2);
  }
  if (isWardenError(error)) {
    console.error(`${error.code}: ${error.message}`);
    for (const fieldError of error.fieldErrors) console.error(`  ${fieldError.field}: ${fieldError.message}`);
    process.exit(1);
  }
  console.error(`warden failed: ${(error as Error).message}`);
  process.exit(1);
}
