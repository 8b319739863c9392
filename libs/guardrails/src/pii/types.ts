/** Kinds of personal data that the guardrails detect. */
export type PiiEntityType =
  | 'IBAN'
  | 'CREDIT_CARD'
  | 'US_SSN'
  | 'EMAIL_ADDRESS'
  | 'PHONE_NUMBER'
  | 'IP_ADDRESS'
  | 'ABA_ROUTING_NUMBER'
  | 'US_BANK_ACCOUNT'
  | 'DATE_OF_BIRTH';

/**
 * One detected piece of personal data. It never carries the matched text, so that callers can log
 * findings. `start` and `end` are UTF-16 offsets [start, end) into the scanned string, and `score`
 * is the confidence in (0, 1].
 */
export interface PiiFinding {
  entityType: PiiEntityType;
  start: number;
  end: number;
  score: number;
  /** Name of the recognizer that produced the finding. */
  recognizer: string;
  text?: never;
}

/** Detector for one or more entity types. `scan` returns its findings in any order. */
export interface PiiRecognizer {
  readonly name: string;
  readonly entityTypes: readonly PiiEntityType[];
  scan(text: string): PiiFinding[];
}
