import { inflateSync } from 'node:zlib';
import { ForbiddenError } from '../../libs/common/src/index.js';
import { createExportEvidence, type ExportEvidence } from '../../libs/audit/src/index.js';
import { createRuntime, runDemoSetup, type WardenRuntime } from '../../libs/decisions/src/index.js';
import { generateGermanCredit } from '../../libs/ingestion/src/index.js';
import type { Principal } from '../../libs/policy/src/index.js';
import type { SubmitReviewInput } from '../../libs/review/src/index.js';
import type { TestDatabase } from './databases.js';

export const REVIEWED_USE_CASE = 'credit-application';

/** One decision with its review case. */
export interface ReviewedDecision {
  decisionId: string;
  caseId: string;
  automaticOutcome: string;
}

/** Decisions of two tenants, made by the decision pipeline and reviewed through the review service. */
export interface ReviewedDecisions {
  runtime: WardenRuntime;
  evidence: ExportEvidence;
  /** Two UTC days from the start of today, which hold every decision. */
  period: { from: Date; to: Date };
  /** bank-a: a REFER decision whose reviewer revealed a masked field and then approved it. */
  referApproved: ReviewedDecision;
  /**
   * bank-a: a large loan (four-eyes) that two reviewers overrode with the opposite outcome. Between
   * the votes, alice tried to claim it again and the review service wrote `access.denied`.
   */
  overridden: ReviewedDecision;
  /** bank-a: a REFER decision that a reviewer claimed and released, so its case is still open. */
  released: ReviewedDecision;
  /** bank-b: a REFER decision that bank-b's reviewer declined. */
  otherTenant: ReviewedDecision;
}

export const REVIEWERS = {
  alice: { subject: 'alice', tenant: 'bank-a', roles: ['reviewer'] },
  bob: { subject: 'bob', tenant: 'bank-a', roles: ['reviewer'] },
  carol: { subject: 'carol', tenant: 'bank-a', roles: ['reviewer'] },
  dora: { subject: 'dora', tenant: 'bank-b', roles: ['reviewer'] },
} satisfies Record<string, Principal>;

/**
 * Opens a runtime on the test database, sets up the demo use case for bank-a and bank-b and reviews
 * four decisions as ReviewedDecisions describes, with one denied attempt. The demo setup also
 * leaves open cases of its own.
 */
export async function seedReviewedDecisions(db: TestDatabase): Promise<ReviewedDecisions> {
  await db.database.close();
  const runtime = await createRuntime(db.config);
  await runDemoSetup(runtime, { tenant: 'bank-a', actor: 'setup' });
  await runDemoSetup(runtime, { tenant: 'bank-b', actor: 'setup' });
  const today = new Date();
  const from = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate()));
  const period = { from, to: new Date(from.getTime() + 2 * 86_400_000) };

  const useCase = runtime.useCases.get(REVIEWED_USE_CASE)!;
  const features = [...useCase.config.features.numeric, ...useCase.config.features.categorical].map((feature) => feature.name);
  const pool = generateGermanCredit({ rows: 400, seed: 11 }).map((record) => Object.fromEntries(features.map((name) => [name, record[name] as string | number])));
  const reasonCode = (await runtime.reviews.reasonCodeOptions(REVIEWED_USE_CASE))[0].code;

  /** Decides applications from the pool until `accept` takes one that opened a review case. */
  const decideUntil = async (tenant: string, amount: number, accept: (outcome: string) => boolean): Promise<ReviewedDecision> => {
    const principal = { subject: 'loan-app', tenant, roles: ['application'] };
    while (pool.length > 0) {
      const decision = await runtime.decisions.decide(principal, { useCase: REVIEWED_USE_CASE, application: { ...pool.shift()!, credit_amount: amount } });
      if (decision.review && accept(decision.outcome)) return { decisionId: decision.id, caseId: decision.review.caseId, automaticOutcome: decision.outcome };
    }
    throw new Error('no matching decision in the application pool');
  };

  const referApproved = await decideUntil('bank-a', 4000, (outcome) => outcome === 'REFER');
  await runtime.reviews.claim(REVIEWERS.alice, referApproved.caseId);
  await runtime.reviews.reveal(REVIEWERS.alice, { caseId: referApproved.caseId, field: 'age_years', reason: 'Checking the age against the ID document.' });
  await runtime.reviews.submit(REVIEWERS.alice, { caseId: referApproved.caseId, action: 'APPROVE', rationale: 'Income documents verified by phone.' });

  // An amount above 15,000 makes a four-eyes case, whatever the model's outcome.
  const overridden = await decideUntil('bank-a', 20_000, (outcome) => outcome !== 'REFER');
  const opposite = overridden.automaticOutcome === 'APPROVE' ? 'DECLINE' : 'APPROVE';
  const vote: SubmitReviewInput = { caseId: overridden.caseId, action: 'OVERRIDE', outcome: opposite, rationale: 'The bureau file shows a settled default.', reasonCodes: [reasonCode] };
  await runtime.reviews.claim(REVIEWERS.alice, overridden.caseId);
  await runtime.reviews.submit(REVIEWERS.alice, vote);
  // The attribute rules turn away a reviewer who already voted, and the denial names the decision.
  const secondClaimError = await runtime.reviews.claim(REVIEWERS.alice, overridden.caseId).then(() => undefined, (error: unknown) => error);
  if (!(secondClaimError instanceof ForbiddenError)) {
    const result = secondClaimError === undefined ? 'succeeded' : `failed with ${String(secondClaimError)}`;
    throw new Error(`alice's second claim of the four-eyes case ${result}, but the attribute rules must forbid it`);
  }
  await runtime.reviews.claim(REVIEWERS.bob, overridden.caseId);
  await runtime.reviews.submit(REVIEWERS.bob, vote);

  const released = await decideUntil('bank-a', 4000, (outcome) => outcome === 'REFER');
  await runtime.reviews.claim(REVIEWERS.carol, released.caseId);
  await runtime.reviews.release(REVIEWERS.carol, released.caseId);

  const otherTenant = await decideUntil('bank-b', 4000, (outcome) => outcome === 'REFER');
  await runtime.reviews.claim(REVIEWERS.dora, otherTenant.caseId);
  await runtime.reviews.submit(REVIEWERS.dora, { caseId: otherTenant.caseId, action: 'DECLINE', rationale: 'Debt ratio exceeds the policy limit.', reasonCodes: [reasonCode] });

  const evidence = createExportEvidence(runtime.checkpoints, runtime.merkle, runtime.checkpointKeys, 'reviewed-decisions-test');
  return { runtime, evidence, period, referApproved, overridden, released, otherTenant };
}

/**
 * Returns the text lines of a PDF that pdfkit wrote with a standard font: each `[...] TJ` array of
 * hex strings in the Flate-compressed content streams is one line.
 */
export function pdfTextLines(pdf: Uint8Array): string[] {
  const lines: string[] = [];
  const text = Buffer.from(pdf).toString('latin1');
  // Each stream is cut by its /Length, not by the endstream keyword: compressed bytes may end in a carriage return.
  for (const match of text.matchAll(/\/Length (\d+)[^>]*>>\s*stream\r?\n/g)) {
    const start = match.index + match[0].length;
    let content: string;
    try {
      content = inflateSync(Buffer.from(text.slice(start, start + Number(match[1])), 'latin1')).toString('latin1');
    } catch {
      continue;
    }
    for (const [, array] of content.matchAll(/\[([^\]]*)\] TJ/g)) {
      lines.push([...array.matchAll(/<([0-9a-f]*)>/g)].map(([, hex]) => Buffer.from(hex, 'hex').toString('latin1')).join(''));
    }
  }
  return lines;
}
