import { Inject } from '@nestjs/common';
import { Args, Field, Float, Int, ObjectType, Query, Resolver } from '@nestjs/graphql';
import { BadUserInputError } from '../../../../libs/common/src/index.js';
import { detectInjection, INJECTION_SOURCES, loadInjectionRules, redactText, scanPii, type InjectionRuleSet, type InjectionSource } from '../../../../libs/guardrails/src/index.js';
import type { WardenRuntime } from '../../../../libs/decisions/src/index.js';
import { WARDEN_RUNTIME } from '../runtime.token.js';
import { Requires } from '../auth/requires.decorator.js';

/** Maximum length of a scanned text, in characters: a long prompt or document page, not a file. */
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

@ObjectType({ description: 'One rule of the injection rule set that matched' })
export class InjectionSignalResult {
  @Field()
  rule!: string;

  @Field()
  category!: string;

  @Field(() => Int)
  start!: number;

  @Field(() => Int)
  end!: number;

  @Field(() => Float)
  weight!: number;
}

@ObjectType({ description: 'Verdict of the prompt-injection rules on a text' })
export class InjectionCheckResult {
  @Field(() => Float, { description: 'Combined evidence from 0 to 1' })
  score!: number;

  @Field({ description: 'pass, flag or block' })
  verdict!: string;

  @Field(() => [InjectionSignalResult])
  signals!: InjectionSignalResult[];

  @Field({ description: 'Version of policies/guardrails/injection-rules.yaml that judged the text' })
  rulesVersion!: string;
}

@Resolver()
export class GuardrailResolver {
  private rules: InjectionRuleSet | undefined;

  constructor(@Inject(WARDEN_RUNTIME) private readonly runtime: WardenRuntime) {}

  @Query(() => InjectionCheckResult, { description: 'Judges a user prompt or a retrieved passage with the prompt-injection rules' })
  @Requires('guardrail', 'scan')
  checkInjection(@Args('text') text: string, @Args('source', { defaultValue: 'user', description: 'user or retrieved' }) source: string): InjectionCheckResult {
    if (text.length > MAX_SCAN_LENGTH) {
      throw new BadUserInputError('Text too long to check.', [{ field: 'text', message: `must be at most ${MAX_SCAN_LENGTH} characters; split longer documents` }]);
    }
    if (!(INJECTION_SOURCES as readonly string[]).includes(source)) {
      throw new BadUserInputError('Unknown text source.', [{ field: 'source', message: `must be one of ${INJECTION_SOURCES.join(', ')}` }]);
    }
    this.rules ??= loadInjectionRules(this.runtime.config.policyDir);
    const verdict = detectInjection(text, this.rules, source as InjectionSource);
    return {
      score: verdict.score,
      verdict: verdict.verdict,
      signals: verdict.signals.map(({ rule, category, start, end, weight }) => ({ rule, category, start, end, weight })),
      rulesVersion: this.rules.version,
    };
  }

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
