// Runs every compiled test file: unit specs beside the code (*.spec.js) and the integration and
// end-to-end suites under test/ (*.test.js). Arguments filter files by substring.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(import.meta.dirname, '..');
const filters = process.argv.slice(2);

function collect(dir, found = []) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) collect(path, found);
    else if (/\.(spec|test)\.js$/.test(entry.name)) found.push(relative(root, path));
  }
  return found;
}

const files = ['apps', 'libs', 'test']
  .flatMap((top) => {
    try {
      return collect(join(root, 'dist', top));
    } catch {
      return [];
    }
  })
  .filter((file) => filters.length === 0 || filters.some((filter) => file.includes(filter)))
  .sort();

if (files.length === 0) {
  if (filters.length === 0) {
    console.error('run-tests: found no compiled test files under dist/. Build first with npm run build.');
  } else {
    // Filters are matched against compiled paths, so a .ts name such as export.test.ts never matches.
    console.error(
      `run-tests: no compiled test file matched ${filters.map((filter) => JSON.stringify(filter)).join(', ')}. ` +
        'Filters match paths such as dist/test/integration/export.test.js, so leave out the .ts ending; run npm run build if dist/ is missing.',
    );
  }
  process.exit(1);
}

const result = spawnSync(
  process.execPath,
  [
    '--test',
    `--test-concurrency=${process.env.WARDEN_TEST_CONCURRENCY ?? 2}`,
    '--test-timeout=600000',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    `--test-reporter=${join(root, 'scripts', 'summary-reporter.mjs')}`,
    '--test-reporter-destination=stdout',
    ...files,
  ],
  { cwd: root, stdio: 'inherit', env: { LOG_LEVEL: 'silent', ...process.env } },
);
process.exit(result.status ?? 1);
