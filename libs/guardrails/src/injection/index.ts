export { detectInjection, MAX_SIGNALS_PER_RULE, type InjectionSignal, type InjectionVerdict } from './detect.js';
export { findEncodedPayloads, findInvisibleCharacters, type Encoding, type InvisibleKind } from './encoded.js';
export { normalizeForMatching, sourceRange, type NormalizedText } from './normalize.js';
export {
  INJECTION_CATEGORIES,
  INJECTION_SOURCES,
  loadInjectionRules,
  parseInjectionRules,
  type InjectionCategory,
  type InjectionMatcher,
  type InjectionRule,
  type InjectionRuleSet,
  type InjectionSource,
} from './rules.js';
export * from './classifier.js';
