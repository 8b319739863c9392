// node:test reporter that counts leaf tests and ends the run with "N passed, N failed".
// Suites are not counted, except that a skipped suite counts as one skipped test.
import { writeFileSync } from 'node:fs';

export default async function* summaryReporter(source) {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const data = event.data;
    if (data.details?.type === 'suite') {
      // A suite failing in a hook has no leaf failure of its own; count it once. A skipped suite
      // never runs its tests, so its size is unknown: it counts as one skipped.
      if (event.type === 'test:fail' && data.details?.error?.failureType === 'hookFailed') failed += 1;
      if (data.skip !== undefined) skipped += 1;
      continue;
    }
    if (data.skip !== undefined || data.todo !== undefined) skipped += 1;
    else if (event.type === 'test:pass') passed += 1;
    else failed += 1;
  }
  const line = `${passed} passed, ${failed} failed, ${skipped} skipped`;
  if (process.env.WARDEN_TEST_SUMMARY_FILE) writeFileSync(process.env.WARDEN_TEST_SUMMARY_FILE, `${line}\n`);
  yield `\n${line}\n`;
}
