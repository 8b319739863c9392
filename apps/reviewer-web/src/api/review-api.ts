import { GraphqlRequestError, postGraphql } from './graphql-client';
import type {
  CaseField,
  Principal,
  ReasonCodeOption,
  RevealFieldInput,
  ReviewCase,
  ReviewCaseSummary,
  ReviewQueueFilter,
  SubmitReviewInput,
} from './review.types';

const CASE_SUMMARY_FIELDS = `
  fragment CaseSummaryFields on ReviewCase {
    id decisionId useCase state priority reasons fourEyes requiredRole assignee requestedBy
    slaDeadline createdAt updatedAt finalOutcome
  }`;

const CASE_FIELDS = `
  ${CASE_SUMMARY_FIELDS}
  fragment CaseFields on ReviewCase {
    ...CaseSummaryFields
    votes { reviewer action outcome rationale reasonCodes at }
    decision {
      kind outcome score modelVersion createdAt
      reasonCodes { code description contribution }
      attributions { feature value contribution }
      application { name value masked description }
    }
    history { at actor action fromState toState rationale reasonCodes detail ledgerSeq }
  }`;

const WHOAMI = `query Whoami { whoami { subject tenant roles } }`;

const REVIEW_QUEUE = `
  query ReviewQueue($filter: ReviewQueueFilter) { reviewQueue(filter: $filter) { ...CaseSummaryFields } }
  ${CASE_SUMMARY_FIELDS}`;

const REVIEW_CASE = `
  query ReviewCase($id: ID!) { reviewCase(id: $id) { ...CaseFields } }
  ${CASE_FIELDS}`;

const REVIEW_REASON_CODES = `
  query ReviewReasonCodes($useCase: String!) { reviewReasonCodes(useCase: $useCase) { code description } }`;

const CLAIM_CASE = `
  mutation ClaimCase($id: ID!) { claimCase(id: $id) { ...CaseFields } }
  ${CASE_FIELDS}`;

const RELEASE_CASE = `
  mutation ReleaseCase($id: ID!) { releaseCase(id: $id) { ...CaseFields } }
  ${CASE_FIELDS}`;

const SUBMIT_REVIEW = `
  mutation SubmitReview($input: SubmitReviewInput!) { submitReview(input: $input) { ...CaseFields } }
  ${CASE_FIELDS}`;

const REVEAL_CASE_FIELD = `
  mutation RevealCaseField($input: RevealFieldInput!) { revealCaseField(input: $input) { name value masked description } }`;

/** Returns the principal of a token, which checks the token before the app keeps it. */
export async function fetchPrincipal(token: string, signal?: AbortSignal): Promise<Principal> {
  const data = await postGraphql<{ whoami: Principal }>(token, WHOAMI, {}, signal);
  return data.whoami;
}

/**
 * The review operations for one signed-in token. An UNAUTHENTICATED error (expired or revoked
 * token) also calls `onUnauthenticated`, so the app can return to the sign-in form.
 */
export class ReviewApi {
  constructor(
    private readonly token: string,
    private readonly onUnauthenticated: (message: string) => void,
  ) {}

  async reviewQueue(filter: ReviewQueueFilter, signal?: AbortSignal): Promise<ReviewCaseSummary[]> {
    const data = await this.post<{ reviewQueue: ReviewCaseSummary[] }>(REVIEW_QUEUE, { filter }, signal);
    return data.reviewQueue;
  }

  async reviewCase(id: string, signal?: AbortSignal): Promise<ReviewCase> {
    const data = await this.post<{ reviewCase: ReviewCase }>(REVIEW_CASE, { id }, signal);
    return data.reviewCase;
  }

  async reviewReasonCodes(useCase: string, signal?: AbortSignal): Promise<ReasonCodeOption[]> {
    const data = await this.post<{ reviewReasonCodes: ReasonCodeOption[] }>(REVIEW_REASON_CODES, { useCase }, signal);
    return data.reviewReasonCodes;
  }

  async claimCase(id: string): Promise<ReviewCase> {
    const data = await this.post<{ claimCase: ReviewCase }>(CLAIM_CASE, { id });
    return data.claimCase;
  }

  async releaseCase(id: string): Promise<ReviewCase> {
    const data = await this.post<{ releaseCase: ReviewCase }>(RELEASE_CASE, { id });
    return data.releaseCase;
  }

  async submitReview(input: SubmitReviewInput): Promise<ReviewCase> {
    const data = await this.post<{ submitReview: ReviewCase }>(SUBMIT_REVIEW, { input });
    return data.submitReview;
  }

  async revealCaseField(input: RevealFieldInput): Promise<CaseField> {
    const data = await this.post<{ revealCaseField: CaseField }>(REVEAL_CASE_FIELD, { input });
    return data.revealCaseField;
  }

  private async post<TData>(query: string, variables: Record<string, unknown>, signal?: AbortSignal): Promise<TData> {
    try {
      return await postGraphql<TData>(this.token, query, variables, signal);
    } catch (error) {
      if (error instanceof GraphqlRequestError && error.code === 'UNAUTHENTICATED') this.onUnauthenticated(error.message);
      throw error;
    }
  }
}
