// Measures PII scanning of a 4 KB prompt: throughput in MB/s and per-scan latency percentiles for
// scanPii with the default recognizers, then the mean time of each recognizer on its own, then the
// combined guard of one proxy message: scan, mask, and judge the masked text with the injection rules.
//
// Run: npm run bench:guardrails   (BENCH_SCANS sets the number of timed scans, default 2,000)
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { detectInjection, loadInjectionRules } from '../../libs/guardrails/src/injection/index.js';
import { defaultRecognizers, scanPii } from '../../libs/guardrails/src/pii/index.js';
import { redactText } from '../../libs/guardrails/src/redaction.js';

const SCANS = Number(process.env.BENCH_SCANS ?? 2000);
const WARMUP_SCANS = 100;
const PER_RECOGNIZER_SCANS = 300;
const PROMPT_BYTES = 4096;

/** A support conversation as a bank employee might paste it into an assistant: mostly prose, some PII. */
const PARAGRAPHS = [
  'You are an assistant for the retail banking operations team. Summarise the case below for the ' +
    'complaints register, list the actions already taken and draft a reply to the customer. Keep the ' +
    'tone formal and do not promise a refund before the investigation closes.',
  'Case 2024-118734. The customer, Maria Keller, wrote on 14 March from maria.keller@example.de and ' +
    'called the branch twice from +49 30 1234567 and later from (202) 456-1111 while travelling. She ' +
    'reports two card payments she does not recognise on her debit card 4111 1111 1111 1111, both to ' +
    'an online electronics shop, for 349.90 EUR and 1,249.00 EUR, three days after she used the card ' +
    'at a petrol station near Frankfurt. She asked us to block the card, which the branch did at 16:42.',
  'She also asked us to send the refund, if any, to her savings account DE89 3704 0044 0532 0130 00 ' +
    'instead of the current account, and mentioned that her husband holds a joint account with IBAN ' +
    'GB29 NWBK 6016 1331 9268 19 in London. The branch adviser, j.brenner@bank.example, noted that the ' +
    'customer had been a client since 2009, has no previous disputes, and that her contact details ' +
    'were verified against the file during the second call.',
  'The fraud team compared the two transactions with the usual pattern: both were card-not-present, ' +
    'both used a new device, and the second one came from 203.0.113.7, an address that appears in ' +
    'three other disputes this month. A colleague in the US desk confirmed that a related transfer ' +
    'tried to reach routing number 021000021 and was stopped by the sanctions screening. The ' +
    'chargeback reason code proposed is 10.4 (other fraud, card-absent environment).',
  'Please prepare: first, a neutral summary of at most 120 words; second, a list of the open ' +
    'questions for the fraud team, such as whether the merchant has replied to the retrieval request ' +
    'and whether the replacement card 5555 5555 5555 4444 has already been dispatched; third, a short ' +
    'reply to the customer in German and English that confirms the block, explains the chargeback ' +
    'timeline of up to 45 days and asks her to confirm the disputed amounts in writing.',
];
const FILLER =
  ' The register entry must follow the usual template: date received, channel, product, category, ' +
  'root cause if known, amount in dispute, and the next review date agreed with the customer.';

/** Builds the prompt from the paragraphs and pads it with prose to exactly PROMPT_BYTES ASCII bytes. */
function buildPrompt(): string {
  let prompt = PARAGRAPHS.join('\n\n');
  while (prompt.length < PROMPT_BYTES) prompt += FILLER;
  return prompt.slice(0, PROMPT_BYTES);
}

/** Walks up from `start` to the first folder that contains package.json. */
function findRepositoryRoot(start: string): string {
  let folder = start;
  while (!existsSync(join(folder, 'package.json'))) {
    const parent = dirname(folder);
    if (parent === folder) throw new Error(`No package.json above ${start}; run the benchmark from inside the repository.`);
    folder = parent;
  }
  return folder;
}

/** Times `scan` SCANS times after WARMUP_SCANS warm-up runs and returns sorted microseconds per run. */
function timeScans(scan: () => unknown): number[] {
  for (let index = 0; index < WARMUP_SCANS; index += 1) scan();
  const micros: number[] = [];
  for (let index = 0; index < SCANS; index += 1) {
    const scanStarted = process.hrtime.bigint();
    scan();
    micros.push(Number(process.hrtime.bigint() - scanStarted) / 1e3);
  }
  return micros.sort((left, right) => left - right);
}

function percentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)];
}

function main(): void {
  const prompt = buildPrompt();
  const bytes = Buffer.byteLength(prompt, 'utf8');
  const findings = scanPii(prompt);
  const byType = new Map<string, number>();
  for (const finding of findings) byType.set(finding.entityType, (byType.get(finding.entityType) ?? 0) + 1);

  console.log(`Node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} logical CPUs`);
  console.log(`Prompt: ${bytes} bytes, ${findings.length} findings (${[...byType].map(([type, count]) => `${type} ${count}`).join(', ')})`);

  for (let index = 0; index < WARMUP_SCANS; index += 1) scanPii(prompt);

  const micros: number[] = [];
  let findingCount = 0;
  const started = process.hrtime.bigint();
  for (let index = 0; index < SCANS; index += 1) {
    const scanStarted = process.hrtime.bigint();
    findingCount += scanPii(prompt).length;
    micros.push(Number(process.hrtime.bigint() - scanStarted) / 1e3);
  }
  const totalSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  // Keeps the results observable so that the loop is not optimized away.
  if (findingCount !== findings.length * SCANS) throw new Error(`scans disagree: ${findingCount} findings in ${SCANS} scans`);

  micros.sort((left, right) => left - right);
  console.log('');
  console.log('| scans | MB/s | p50 µs/scan | p99 µs/scan |');
  console.log('| ---: | ---: | ---: | ---: |');
  console.log(`| ${SCANS} | ${((bytes * SCANS) / 1e6 / totalSeconds).toFixed(2)} | ${percentile(micros, 0.5).toFixed(0)} | ${percentile(micros, 0.99).toFixed(0)} |`);

  console.log('');
  console.log('| recognizer | mean µs/scan |');
  console.log('| --- | ---: |');
  for (const recognizer of defaultRecognizers()) {
    for (let index = 0; index < WARMUP_SCANS; index += 1) recognizer.scan(prompt);
    const recognizerStarted = process.hrtime.bigint();
    for (let index = 0; index < PER_RECOGNIZER_SCANS; index += 1) recognizer.scan(prompt);
    const mean = Number(process.hrtime.bigint() - recognizerStarted) / 1e3 / PER_RECOGNIZER_SCANS;
    console.log(`| ${recognizer.name} | ${mean.toFixed(0)} |`);
  }

  // What the proxy does for one user message: scan, replace the findings, then judge the result.
  const rules = loadInjectionRules(join(findRepositoryRoot(import.meta.dirname), 'policies'));
  const guards: [string, () => unknown][] = [
    ['injection rules alone', () => detectInjection(prompt, rules, 'user')],
    ['PII scan + mask + injection rules', () => detectInjection(redactText(prompt, scanPii(prompt), { mode: 'mask' }), rules, 'user')],
  ];
  console.log('');
  console.log(`Rules ${rules.version} (${rules.rules.length} rules); the combined row is the target of under 2 ms p99.`);
  console.log('| guard | p50 µs/prompt | p99 µs/prompt |');
  console.log('| --- | ---: | ---: |');
  for (const [name, scan] of guards) {
    const sorted = timeScans(scan);
    console.log(`| ${name} | ${percentile(sorted, 0.5).toFixed(0)} | ${percentile(sorted, 0.99).toFixed(0)} |`);
  }
}

main();
