import { Args, Field, Float, Int, ObjectType, Query, Resolver } from '@nestjs/graphql';
import { BadUserInputError } from '../../../../libs/common/src/index.js';
import { redactText, scanPii } from '../../../../libs/guardrails/src/index.js';
import { Requires } from '../auth/requires.decorator.js';

/** Longest text scanText accepts, in characters: a long prompt or document page, not a file. */
const MAX_SCAN_LENGTH = 100_000;

@ObjectType({ description: 'Personal data found in a text; the matched text itself is never returned' })
export class PiiFindingResult {
  @Field({ description: 'IBAN, CREDIT_CARD, US_SSN, EMAIL_ADDRESS, PHONE_NUMBER, IP_ADDRESS, ABA_ROUTING_NUMBER, US_BANK_ACCOUNT or DATE_OF_BIRTH' })
  entityType!: string;

  @Field(() => Int, { description: 'Start offset in UTF-16 code units' })
  start!: number;

  @Field(() => Int, { description: 'End offset (exclusive) in UTF-16 code units' })
  end!: number;

  @Field(() => Float)
  score!: number;

  @Field({ description: 'Recognizer that found it' })
  recognizer!: string;
}

@ObjectType({ description: 'Result of scanning a text for personal data' })
export class ScanTextResult {
  @Field(() => [PiiFindingResult])
  findings!: PiiFindingResult[];

  @Field({ description: 'The text with every finding masked by its entity type, such as [IBAN]' })
  masked!: string;
}

@Resolver()
export class GuardrailResolver {
  @Query(() => ScanTextResult, { description: 'Finds personal data in a text with validating recognizers (IBAN mod-97, card Luhn, SSN ranges...)' })
  @Requires('guardrail', 'scan')
  scanText(@Args('text') text: string): ScanTextResult {
    if (text.length > MAX_SCAN_LENGTH) {
      throw new BadUserInputError('Text too long to scan.', [{ field: 'text', message: `must be at most ${MAX_SCAN_LENGTH} characters; split longer documents` }]);
    }
    const findings = scanPii(text);
    return {
      findings: findings.map(({ entityType, start, end, score, recognizer }) => ({ entityType, start, end, score, recognizer })),
      masked: redactText(text, findings, { mode: 'mask' }),
    };
  }
}
