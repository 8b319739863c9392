import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { verifyLedger } from '../../libs/audit/src/index.js';
import { runDemoSetup } from '../../libs/decisions/src/index.js';
import { generateGermanCredit } from '../../libs/ingestion/src/index.js';
import { databaseTargets, REPO_ROOT } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

// Playwright's own browser download fetches from outside the package registries, so the tests drive Debian's Chromium.
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const VIEWPORT = { width: 1280, height: 800 };
const SCREENSHOTS = join(REPO_ROOT, 'test-artifacts', 'reviewer-web');
const MAX_SCREENSHOT_HEIGHT = 4000;

const TENANT = 'bank-a';
const USE_CASE = 'credit-application';
const FEATURES = [
  'duration_months', 'credit_amount', 'installment_rate_pct', 'residence_since', 'age_years', 'existing_credits', 'num_dependents',
  'checking_status', 'credit_history', 'purpose', 'savings_status', 'employment_since', 'other_debtors', 'property',
  'other_installment_plans', 'housing', 'job', 'telephone',
];
/** The use case masks this field for reviewers until one reveals it with a reason. */
const MASKED_FIELD = 'age_years';
/** credit_amount above this makes a four-eyes case, whatever the score. */
const FOUR_EYES_AMOUNT = 16000;

const DECIDE = `mutation Decide($input: DecideInput!) {
  decide(input: $input) { id outcome review { caseId state reasons } }
}`;
const GET_DECISION = `query Get($id: ID!) {
  decision(id: $id) { id outcome reviewStatus finalOutcome review { caseId state finalOutcome reviewers } }
}`;

type Application = Record<string, string | number>;

interface DecisionResult {
  id: string;
  outcome: string;
  review: { caseId: string; state: string; reasons: string[] } | null;
}

interface LedgerRow {
  seq: string;
  actor: string;
  payload: Record<string, unknown>;
}

/** Returns why the browser tests cannot run here, or undefined when Chromium is installed. */
function chromiumMissingReason(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  return `Chromium is not installed at ${CHROMIUM}; install it with scripts/install-chromium.sh`;
}

/** Retries `check` until it passes or `timeoutMs` runs out, then throws its last error. */
async function eventually<T>(check: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await delay(50);
    }
  }
}

async function textOf(locator: Locator): Promise<string> {
  return ((await locator.textContent()) ?? '').trim();
}

async function expectText(locator: Locator, expected: string | RegExp): Promise<void> {
  await eventually(async () => {
    const text = await textOf(locator);
    if (typeof expected === 'string') assert.equal(text, expected);
    else assert.match(text, expected);
  });
}

async function expectAttribute(locator: Locator, name: string, expected: string): Promise<void> {
  await eventually(async () => assert.equal(await locator.getAttribute(name), expected, `attribute ${name}`));
}

function queueRow(page: Page, caseId: string): Locator {
  return page.locator(`[data-testid="queue-row"][data-case-id="${caseId}"]`);
}

function fieldValue(page: Page, field: string): Locator {
  return page.locator(`[data-testid="field-value"][data-field="${field}"]`);
}

/**
 * Saves a picture of the whole page. The viewport grows to the page's height first, because the
 * case page's review panel is sticky and a plain full-page capture draws it halfway down.
 */
async function screenshot(page: Page, name: string): Promise<void> {
  const height = await page.evaluate<number>('document.documentElement.scrollHeight');
  await page.setViewportSize({ width: VIEWPORT.width, height: Math.min(Math.max(height, VIEWPORT.height), MAX_SCREENSHOT_HEIGHT) });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
  await page.setViewportSize(VIEWPORT);
}

/**
 * Returns the role and accessible name of one form control, as Playwright's ARIA snapshot
 * computes them (the same computation as its getByRole).
 */
async function accessibleName(control: Locator): Promise<{ role: string; name: string }> {
  const snapshot = (await control.ariaSnapshotJSON()) as { role?: string; name?: string }[] | { role?: string; name?: string };
  const node = Array.isArray(snapshot) ? snapshot[0] : snapshot;
  return { role: node?.role ?? '', name: (node?.name ?? '').trim() };
}

/** Lists the visible input, select and textarea elements on the page that have no accessible name. */
async function unlabelledControls(page: Page): Promise<string[]> {
  const unlabelled: string[] = [];
  for (const control of await page.locator('input, select, textarea').all()) {
    if (!(await control.isVisible())) continue;
    const { role, name } = await accessibleName(control);
    if (name !== '') continue;
    const tag = await control.evaluate((element) => element.tagName.toLowerCase());
    const testId = (await control.getAttribute('data-testid')) ?? (await control.getAttribute('id')) ?? '?';
    unlabelled.push(`${tag}[${testId}] role=${role || 'none'}`);
  }
  return unlabelled;
}

async function horizontalOverflow(page: Page): Promise<{ scrollWidth: number; clientWidth: number }> {
  return page.evaluate<{ scrollWidth: number; clientWidth: number }>(
    '({ scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth })',
  );
}

const target = (await databaseTargets()).find((candidate) => candidate.name === 'embedded')!;
const missingChromium = chromiumMissingReason();
// CI installs Chromium, so a missing browser there is a broken setup and must fail the suite.
const failInCi = missingChromium !== undefined && Boolean(process.env.CI);

describe('reviewer web app in Chromium', { skip: failInCi ? undefined : missingChromium }, () => {
  let gw: TestGateway;
  let browser: Browser;
  let app: string;
  let alice: string;
  let bob: string;
  let pool: Application[];
  let approveCase: DecisionResult;
  let fourEyesCase: DecisionResult;
  let revealCase: DecisionResult;
  let accessibilityCase: DecisionResult;
  const contexts: BrowserContext[] = [];

  async function decide(application: Application): Promise<DecisionResult> {
    const response = await gw.graphql<{ decide: DecisionResult }>(DECIDE, { input: { useCase: USE_CASE, application } }, app);
    assert.equal(response.body.errors, undefined, JSON.stringify(response.body.errors));
    return response.body.data!.decide;
  }

  /** Decides applications from the pool until one comes out REFER, which opens a plain review case. */
  async function referDecision(): Promise<DecisionResult> {
    while (pool.length > 0) {
      const decision = await decide({ ...pool.shift()!, credit_amount: 4000 });
      if (decision.outcome === 'REFER') {
        assert.ok(decision.review, `REFER decision ${decision.id} opened no review case`);
        return decision;
      }
    }
    throw new Error('no REFER decision in the applicant pool');
  }

  async function ledgerEntries(type: string, caseId: string): Promise<LedgerRow[]> {
    return gw.runtime.database.dataSource.query(
      "SELECT seq::text AS seq, actor, payload FROM audit.ledger_entries WHERE type = $1 AND payload->>'caseId' = $2 ORDER BY seq",
      [type, caseId],
    );
  }

  /** Returns the HMAC-SHA-256 of `text` under the salt the case event of ledger entry `seq` stores. */
  async function keyedDigest(seq: string, text: string): Promise<string> {
    const [row]: { text_salt: Buffer }[] = await gw.runtime.database.dataSource.query('SELECT text_salt FROM review.case_events WHERE ledger_seq = $1', [seq]);
    return createHmac('sha256', row.text_salt).update(text, 'utf8').digest('hex');
  }

  /** Opens a new browser context with its own session storage, so each reviewer signs in separately. */
  async function openApp(): Promise<Page> {
    const context = await browser.newContext({ viewport: VIEWPORT });
    context.setDefaultTimeout(10_000);
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(`${gw.gateway.url}/review/#/queue`);
    return page;
  }

  async function signIn(page: Page, token: string, subject: string): Promise<void> {
    await page.getByTestId('signin-token').fill(token);
    await page.getByTestId('signin-submit').click();
    await expectText(page.getByTestId('principal-subject'), subject);
  }

  async function openSignedIn(token: string, subject: string): Promise<Page> {
    const page = await openApp();
    await signIn(page, token, subject);
    return page;
  }

  /** Opens a case by clicking its row in the queue, and waits for the case page to load it. */
  async function openCaseFromQueue(page: Page, caseId: string): Promise<void> {
    await queueRow(page, caseId).click();
    await eventually(async () => assert.equal(new URL(page.url()).hash, `#/case/${caseId}`));
    await page.getByTestId('case-state').waitFor();
  }

  async function claim(page: Page, subject: string): Promise<void> {
    await page.getByTestId('case-claim').click();
    await expectText(page.getByTestId('case-assignee'), subject);
    await expectText(page.getByTestId('case-state'), 'CLAIMED');
  }

  async function submitReview(page: Page, action: string, rationale: string): Promise<void> {
    await page.getByTestId('review-action').selectOption(action);
    await page.getByTestId('review-rationale').fill(rationale);
    await page.getByTestId('review-submit').click();
  }

  before(async () => {
    if (missingChromium) throw new Error(`CI needs Chromium for the reviewer web app tests: ${missingChromium}`);
    mkdirSync(SCREENSHOTS, { recursive: true });

    gw = await startTestGateway(target);
    await runDemoSetup(gw.runtime, { tenant: TENANT, actor: 'test-setup' });
    app = await gw.token(TENANT, ['application'], 'loan-app');
    alice = await gw.token(TENANT, ['reviewer'], 'alice');
    bob = await gw.token(TENANT, ['reviewer'], 'bob');
    pool = generateGermanCredit({ rows: 400, seed: 11 }).map((record) =>
      Object.fromEntries(FEATURES.map((name) => [name, record[name] as string | number])),
    );

    approveCase = await referDecision();
    revealCase = await referDecision();
    accessibilityCase = await referDecision();
    fourEyesCase = await decide({ ...pool.shift()!, credit_amount: FOUR_EYES_AMOUNT });
    assert.ok(fourEyesCase.review?.reasons.includes('THRESHOLD_EXCEEDED'), `decision ${fourEyesCase.id} should open a four-eyes case`);

    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  });

  after(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await browser?.close();
    await gw?.close();
  });

  it('signs in and lists the REFER case', async () => {
    const page = await openApp();
    const tokenError = page.locator('.sign-in-form .field-error');

    await page.getByTestId('signin-submit').click();
    await expectText(tokenError, 'Error: Paste a token first.');

    // Alice's signature on Bob's claims: well formed, but the signature does not match.
    const [header, payload] = bob.split('.');
    const forged = `${header}.${payload}.${alice.split('.')[2]}`;
    await page.getByTestId('signin-token').fill(forged);
    await page.getByTestId('signin-submit').click();
    await expectText(tokenError, /signature is invalid/);
    await expectAttribute(page.getByTestId('status-message'), 'data-tone', 'error');
    assert.equal(await page.getByTestId('principal-subject').count(), 0, 'a rejected token signs nobody in');
    assert.equal(await page.getByTestId('signin-token').getAttribute('aria-invalid'), 'true');

    await signIn(page, alice, 'alice');
    await expectText(page.getByTestId('principal-tenant'), TENANT);
    await expectText(page.getByTestId('principal-roles'), 'reviewer');
    await expectAttribute(page.getByTestId('status-message'), 'data-tone', 'success');
    await expectText(page.getByTestId('status-message'), `Done: Signed in as alice for tenant ${TENANT}.`);

    const row = queueRow(page, approveCase.review!.caseId);
    await row.waitFor();
    await expectText(row.locator('[data-state]'), 'Open');
    assert.match(await textOf(row), /Refer band/);
    await screenshot(page, '1-queue');
  });

  it('claims and approves a case with a rationale', async () => {
    const caseId = approveCase.review!.caseId;
    const page = await openSignedIn(alice, 'alice');
    const rows = page.getByTestId('queue-row');
    await queueRow(page, caseId).waitFor();
    const rowCount = await rows.count();
    assert.ok(rowCount >= 2, `the queue should list several cases, got ${rowCount}`);

    // Keyboard: with focus on the page, j selects the first row, ArrowDown the next, and k goes back.
    await page.locator('#main').focus();
    await page.keyboard.press('j');
    await expectAttribute(rows.nth(0), 'data-selected', 'true');
    await page.keyboard.press('ArrowDown');
    await expectAttribute(rows.nth(1), 'data-selected', 'true');
    await expectAttribute(rows.nth(0), 'data-selected', 'false');
    await page.keyboard.press('k');
    await expectAttribute(rows.nth(0), 'data-selected', 'true');
    for (let presses = 0; (await queueRow(page, caseId).getAttribute('data-selected')) !== 'true'; presses++) {
      assert.ok(presses < rowCount, `j never selected case ${caseId}`);
      await page.keyboard.press('j');
    }
    await page.keyboard.press('Enter');
    await eventually(async () => assert.equal(new URL(page.url()).hash, `#/case/${caseId}`));
    await expectText(page.getByTestId('case-state'), 'OPEN');

    // Mouse: back to the queue, then a click on the row opens the same case.
    await page.getByRole('link', { name: '← Back to the queue' }).click();
    await openCaseFromQueue(page, caseId);
    await expectText(page.getByTestId('decision-outcome'), 'REFER');
    await expectText(page.getByTestId('decision-score'), /^\d+\.\d %$/);
    assert.equal(await page.getByTestId('review-submit').isDisabled(), true, 'the form is disabled before a claim');
    await screenshot(page, '2-case');

    await claim(page, 'alice');
    assert.equal(await page.getByTestId('case-claim').isDisabled(), true);
    assert.equal(await page.getByTestId('case-release').isDisabled(), false);

    // A too short rationale is rejected in the page, before any request.
    await submitReview(page, 'APPROVE', 'too short');
    await expectAttribute(page.getByTestId('review-rationale'), 'aria-invalid', 'true');
    await expectText(page.getByTestId('case-state'), 'CLAIMED');

    const rationale = 'Income documents and two years of payslips verified.';
    await submitReview(page, 'APPROVE', rationale);
    await expectText(page.getByTestId('case-state'), 'DECIDED');
    await expectText(page.getByTestId('case-final-outcome'), 'APPROVE');
    await expectText(page.getByTestId('review-confirmation'), /The case is decided with final outcome APPROVE/);
    await expectAttribute(page.getByTestId('status-message'), 'data-tone', 'success');
    await expectText(page.getByTestId('decision-outcome'), 'REFER');
    assert.match(await textOf(page.getByTestId('votes-list')), new RegExp(rationale));
    await page.locator('[data-testid="history-list"] li[data-action="decided"]').waitFor();
    assert.equal(await page.getByTestId('review-submit').count(), 0, 'a decided case has no review form');
    await screenshot(page, '3-decided');

    const response = await gw.graphql<{ decision: { outcome: string; reviewStatus: string; finalOutcome: string } }>(
      GET_DECISION,
      { id: approveCase.id },
      app,
    );
    assert.equal(response.body.errors, undefined, JSON.stringify(response.body.errors));
    const decision = response.body.data!.decision;
    assert.equal(decision.outcome, 'REFER', 'review never changes the automatic outcome');
    assert.equal(decision.reviewStatus, 'COMPLETED');
    assert.equal(decision.finalOutcome, 'APPROVE');

    const decided = await ledgerEntries('review.decided', caseId);
    assert.equal(decided.length, 1);
    assert.equal(decided[0].actor, 'alice');
    assert.equal(decided[0].payload.finalOutcome, 'APPROVE');
    assert.equal(decided[0].payload.rationaleHmac, await keyedDigest(decided[0].seq, rationale));
    await expectAttribute(page.locator('[data-testid="history-list"] li[data-action="decided"]'), 'data-ledger-seq', decided[0].seq);

    const verification = await verifyLedger(gw.runtime.database.dataSource);
    assert.equal(verification.ok, true, JSON.stringify(verification));
  });

  it('needs a second reviewer on a four-eyes case', async () => {
    const caseId = fourEyesCase.review!.caseId;
    const alicePage = await openSignedIn(alice, 'alice');
    await openCaseFromQueue(alicePage, caseId);
    await alicePage.locator('.four-eyes-note').waitFor();
    await claim(alicePage, 'alice');
    await submitReview(alicePage, 'APPROVE', 'Collateral covers the full amount; approve.');

    await expectText(alicePage.getByTestId('case-state'), 'AWAITING_SECOND_REVIEW');
    await expectText(alicePage.getByTestId('review-confirmation'), /A second reviewer must agree before the decision is final/);
    await expectText(alicePage.getByTestId('status-message'), /A second reviewer must agree/);
    assert.equal(await alicePage.getByTestId('case-final-outcome').count(), 0, 'one vote gives no final outcome');
    await expectText(alicePage.getByTestId('case-assignee'), 'Unassigned');
    assert.equal(await alicePage.getByTestId('case-claim').isDisabled(), true, 'the first reviewer cannot claim the case again');
    await expectText(alicePage.getByTestId('case-blocked-reason'), /a different reviewer must give the second/);
    assert.equal(await alicePage.locator('[data-testid="votes-list"] > li').count(), 1);
    await screenshot(alicePage, '4-four-eyes-first-vote');

    const bobPage = await openSignedIn(bob, 'bob');
    await expectText(queueRow(bobPage, caseId).locator('[data-state]'), 'Awaiting second review');
    await openCaseFromQueue(bobPage, caseId);
    await claim(bobPage, 'bob');
    await submitReview(bobPage, 'APPROVE', 'Agree: income and collateral are documented.');
    await expectText(bobPage.getByTestId('case-state'), 'DECIDED');
    await expectText(bobPage.getByTestId('case-final-outcome'), 'APPROVE');

    const votes = bobPage.locator('[data-testid="votes-list"] > li');
    assert.equal(await votes.count(), 2);
    assert.match(await textOf(votes.nth(0)), /^Vote 1: alice chose APPROVE/);
    assert.match(await textOf(votes.nth(1)), /^Vote 2: bob chose APPROVE/);
    await screenshot(bobPage, '5-four-eyes-decided');

    // Alice's page shows the final state once she refreshes it.
    await alicePage.getByTestId('case-refresh').click();
    await expectText(alicePage.getByTestId('case-state'), 'DECIDED');

    const stored: { reviewer: string }[] = await gw.runtime.database.dataSource.query(
      'SELECT reviewer FROM review.votes WHERE case_id = $1 ORDER BY created_at, round',
      [caseId],
    );
    assert.deepEqual(stored.map((vote) => vote.reviewer), ['alice', 'bob']);
    const decided = await ledgerEntries('review.decided', caseId);
    assert.equal(decided.length, 1);
    assert.equal(decided[0].actor, 'bob');
  });

  it('reveals a masked field with a reason and records it', async () => {
    const caseId = revealCase.review!.caseId;
    const page = await openSignedIn(alice, 'alice');
    await openCaseFromQueue(page, caseId);

    const value = fieldValue(page, MASKED_FIELD);
    await expectAttribute(value, 'data-masked', 'true');
    assert.doesNotMatch(await textOf(value), /\d/, 'a masked value shows no digits');
    const revealButton = page.getByRole('button', { name: `Reveal ${MASKED_FIELD}`, exact: true });
    const dialog = page.getByTestId('reveal-dialog');

    // The dialog checks the reason's length, and the gateway rejects a reveal without a claim.
    await revealButton.click();
    await page.getByTestId('reveal-reason').fill('short');
    await page.getByTestId('reveal-confirm').click();
    await expectText(dialog.locator('.field-error'), /Write a reason of 10 to 1000 characters/);
    await page.getByTestId('reveal-reason').fill('Checking the age before claiming the case.');
    await page.getByTestId('reveal-confirm').click();
    await expectText(dialog.locator('.field-error'), /claim it first/);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    await expectAttribute(value, 'data-masked', 'true');
    assert.equal((await ledgerEntries('review.field_revealed', caseId)).length, 0, 'a rejected reveal leaves no ledger entry');

    await claim(page, 'alice');
    const reason = 'Age must be checked against the ID document.';
    await revealButton.click();
    await page.getByTestId('reveal-reason').fill(reason);
    await page.getByTestId('reveal-confirm').click();
    await dialog.waitFor({ state: 'detached' });

    const [stored] = (await gw.runtime.database.dataSource.query('SELECT record FROM decisions.decision_records WHERE id = $1', [revealCase.id])) as {
      record: { lineage: { featureValues: Record<string, unknown> } };
    }[];
    const expected = String(stored.record.lineage.featureValues[MASKED_FIELD]);
    assert.match(expected, /^\d+$/, 'the stored age is a number');
    await expectAttribute(value, 'data-masked', 'false');
    await expectText(value, expected);
    await expectText(page.getByTestId('status-message'), `Done: Revealed ${MASKED_FIELD}. The reveal is recorded in the ledger.`);

    const revealed = await ledgerEntries('review.field_revealed', caseId);
    assert.equal(revealed.length, 1);
    assert.equal(revealed[0].actor, 'alice');
    assert.equal(revealed[0].payload.field, MASKED_FIELD);
    assert.equal(revealed[0].payload.reasonHmac, await keyedDigest(revealed[0].seq, reason));
    assert.deepEqual(Object.keys(revealed[0].payload).sort(), ['caseId', 'decisionId', 'field', 'reasonHmac'], 'the revealed value stays out of the ledger');

    const historyItem = page.locator('[data-testid="history-list"] li[data-action="field_revealed"]');
    await historyItem.waitFor();
    await expectAttribute(historyItem, 'data-ledger-seq', revealed[0].seq);
    assert.match(await textOf(historyItem), new RegExp(`field revealed by alice.*${MASKED_FIELD}`, 's'));
    await screenshot(page, '6-reveal');
  });

  it('labels every control and fits 1280 pixels', async () => {
    const page = await openSignedIn(alice, 'alice');
    await queueRow(page, accessibilityCase.review!.caseId).waitFor();
    assert.deepEqual(await unlabelledControls(page), [], 'queue page controls without an accessible name');
    const queueWidth = await horizontalOverflow(page);
    assert.ok(queueWidth.scrollWidth <= queueWidth.clientWidth, `the queue scrolls sideways: ${JSON.stringify(queueWidth)}`);

    await openCaseFromQueue(page, accessibilityCase.review!.caseId);
    await claim(page, 'alice');
    // OVERRIDE shows the outcome select, so the check covers every control of the form.
    await page.getByTestId('review-action').selectOption('OVERRIDE');
    await page.getByTestId('review-outcome').waitFor();
    await page.getByTestId('review-reason-code').first().waitFor();
    assert.deepEqual(await unlabelledControls(page), [], 'case page controls without an accessible name');
    assert.deepEqual(await accessibleName(page.getByTestId('review-rationale')), { role: 'textbox', name: 'Rationale' });
    assert.deepEqual(await accessibleName(page.getByTestId('review-outcome')), { role: 'combobox', name: 'New outcome' });
    const caseWidth = await horizontalOverflow(page);
    assert.ok(caseWidth.scrollWidth <= caseWidth.clientWidth, `the case page scrolls sideways: ${JSON.stringify(caseWidth)}`);

    await page.getByRole('button', { name: `Reveal ${MASKED_FIELD}`, exact: true }).click();
    await page.getByTestId('reveal-reason').waitFor();
    assert.deepEqual(await accessibleName(page.getByTestId('reveal-reason')), { role: 'textbox', name: `Reason for revealing ${MASKED_FIELD}` });
    await page.keyboard.press('Escape');
    await page.getByTestId('reveal-dialog').waitFor({ state: 'detached' });
  });
});
