import { evaluateExpression, ExpressionError, parseExpression, referencedNames, type Expression, type FeatureVector, type FeatureView, type OnlineFeatureRequest } from '../../feature-store/src/index.js';
import type { CategoricalFeatureConfig, NumericFeatureConfig, UseCaseConfig } from './use-case-config.js';

/** Fields of a decision request for a use case whose model reads feature views. */
export interface RequestConfig {
  /** Request field with the event time (ISO 8601); features are read as of it. */
  asOf: string;
  numeric: NumericFeatureConfig[];
  categorical: CategoricalFeatureConfig[];
  /** String fields that identify the entities of the feature views, such as account ids. */
  entities: string[];
}

/** A feature view that a use case reads, pinned to a version. */
export interface FeatureViewReference {
  view: string;
  version: string;
  /** Request field whose value is the view's entity key. */
  entity: string;
  /** Prefix of the view's feature names in computed-feature expressions: `payee` gives `payee_tx_count_24h`. */
  prefix: string;
}

/** A numeric model input computed from request fields and view features. */
export interface ComputedFeatureConfig {
  name: string;
  expression: string;
  /** Value the model receives when the expression is null (no history, division by zero). */
  missing: number;
}

/** Versions and hashes of the feature views a model was trained on, as stored in its training config. */
export interface TrainedViewVersion {
  view: string;
  version: string;
  hash: string;
}

const NAME_PATTERN = /^[a-z][a-z0-9_]{0,62}$/;
const VIEW_PATTERN = /^[a-z][a-z0-9-]{0,62}$/;

/** True when the use case reads feature views (declares `featureViews`). */
export function readsFeatureViews(config: UseCaseConfig): boolean {
  return config.featureViews !== undefined;
}

/**
 * Checks the request, featureViews and computed-feature sections of a use case on their own.
 * Returns the first problem as a sentence, or undefined. The views themselves are checked later
 * by checkViewBindings, once the feature store has loaded them.
 */
export function checkFeatureViewSections(config: UseCaseConfig): string | undefined {
  const request = config.request;
  if (!request || typeof request !== 'object') return 'a use case with featureViews needs a request section with asOf, numeric, categorical and entities';
  if (typeof request.asOf !== 'string' || !NAME_PATTERN.test(request.asOf)) return 'request.asOf must name the request field with the event time, such as event_time';
  for (const key of ['numeric', 'categorical', 'entities'] as const) {
    if (!Array.isArray(request[key])) return `request.${key} must be a list (use [] for none)`;
  }
  for (const [index, field] of request.numeric.entries()) {
    if (!NAME_PATTERN.test(String(field?.name)) || !(field.minimum <= field.maximum)) {
      return `request.numeric[${index}] needs a name of lowercase letters, digits and underscores and minimum <= maximum`;
    }
  }
  for (const [index, field] of request.categorical.entries()) {
    if (!NAME_PATTERN.test(String(field?.name)) || !Array.isArray(field.levels) || field.levels.length === 0) {
      return `request.categorical[${index}] needs a name and a non-empty list of levels`;
    }
  }
  const requestFields = [request.asOf, ...request.numeric.map((field) => field.name), ...request.categorical.map((field) => field.name), ...request.entities];
  if (new Set(requestFields).size !== requestFields.length) return 'request declares a field twice';

  const views = config.featureViews ?? [];
  if (!Array.isArray(views) || views.length === 0) return 'featureViews must list at least one feature view';
  const prefixes = new Set<string>();
  for (const [index, reference] of views.entries()) {
    const where = `featureViews[${index}]`;
    if (!VIEW_PATTERN.test(String(reference?.view))) return `${where}.view must name a feature view, such as payee-activity`;
    if (typeof reference.version !== 'string' || reference.version === '') return `${where}.version must be the view version as a string, such as "1"`;
    if (!request.entities.includes(reference.entity)) return `${where}.entity "${reference.entity}" must be one of request.entities (${request.entities.join(', ')})`;
    if (!NAME_PATTERN.test(String(reference.prefix)) || prefixes.has(reference.prefix)) return `${where}.prefix must be a distinct name such as payee`;
    prefixes.add(reference.prefix);
  }

  const computed = config.features.computed ?? [];
  if (!Array.isArray(computed) || computed.length === 0) return 'features.computed must list the numeric model inputs of a use case with featureViews';
  if (config.features.numeric.length > 0) return 'features.numeric must be empty when featureViews is set; declare numeric model inputs under features.computed';
  for (const [index, feature] of computed.entries()) {
    const where = `features.computed[${index}]`;
    if (!NAME_PATTERN.test(String(feature?.name))) return `${where}.name must be lowercase letters, digits and underscores`;
    if (typeof feature.missing !== 'number' || !Number.isFinite(feature.missing)) return `${where} (${feature.name}) needs a finite number as missing`;
    try {
      parseExpression(String(feature.expression));
    } catch (error) {
      if (!(error instanceof ExpressionError)) throw error;
      return `${where} (${feature.name}) has an invalid expression: ${error.message}`;
    }
  }
  const requestCategorical = new Map(request.categorical.map((field) => [field.name, field.levels]));
  for (const feature of config.features.categorical) {
    const levels = requestCategorical.get(feature.name);
    if (!levels) return `features.categorical ${feature.name} must be a field of request.categorical`;
    if (feature.levels.some((level) => !levels.includes(level))) return `features.categorical ${feature.name} lists a level that request.categorical does not allow`;
  }
  return undefined;
}

/**
 * Checks a use case against the loaded feature views. Each referenced view must exist at the
 * pinned version and take only numeric request fields as inputs. Every name an expression reads
 * must be a numeric request field or a prefixed view feature. Returns the problems as sentences.
 */
export function checkViewBindings(config: UseCaseConfig, views: ReadonlyMap<string, FeatureView>): string[] {
  const problems: string[] = [];
  const numericRequest = new Set((config.request?.numeric ?? []).map((field) => field.name));
  const scope = new Set(numericRequest);
  for (const reference of config.featureViews ?? []) {
    const view = views.get(reference.view);
    if (!view) {
      problems.push(`feature view ${reference.view} is not defined under policies/features`);
      continue;
    }
    if (view.version !== reference.version) {
      problems.push(`it pins feature view ${view.name} to version ${reference.version}, but ${view.sourcePath} defines version ${view.version}; update featureViews and retrain`);
    }
    for (const input of view.inputs) {
      if (!numericRequest.has(input)) problems.push(`feature view ${view.name} takes the input ${input}, which is not a field of request.numeric`);
    }
    for (const name of viewFeatureNames(view)) scope.add(`${reference.prefix}_${name}`);
  }
  for (const feature of config.features.computed ?? []) {
    for (const name of referencedNames(parseExpression(feature.expression))) {
      if (!scope.has(name)) problems.push(`features.computed ${feature.name} reads ${name}, which is neither a numeric request field nor a prefixed view feature`);
    }
  }
  return problems;
}

function viewFeatureNames(view: FeatureView): string[] {
  return [...view.aggregations.map((aggregation) => aggregation.name), ...view.derived.map((derived) => derived.name)];
}

/** Builds one online read per referenced view for a validated request. */
export function featureReadsFor(config: UseCaseConfig, tenant: string, request: Readonly<Record<string, string | number>>): OnlineFeatureRequest[] {
  const numericInputs: Record<string, number> = {};
  for (const field of config.request?.numeric ?? []) numericInputs[field.name] = request[field.name] as number;
  const asOf = new Date(String(request[(config.request as RequestConfig).asOf]));
  return (config.featureViews ?? []).map((reference) => ({
    tenant,
    view: reference.view,
    entityKey: String(request[reference.entity]),
    asOf,
    inputs: numericInputs,
  }));
}

const parsedExpressions = new Map<string, Expression>();

/**
 * Computes the model inputs from a validated request and its feature vectors (in featureViews
 * order): computed numeric features with nulls replaced by `missing`, then the categoricals.
 * Training and decisions both call it, so the same values give the same inputs.
 */
export function computeModelInputs(config: UseCaseConfig, request: Readonly<Record<string, unknown>>, vectors: readonly FeatureVector[]): Record<string, string | number> {
  const scope: Record<string, number | null> = {};
  for (const field of config.request?.numeric ?? []) {
    scope[field.name] = numberOrNull(request[field.name]);
  }
  (config.featureViews ?? []).forEach((reference, index) => {
    for (const [name, value] of Object.entries(vectors[index].values)) scope[`${reference.prefix}_${name}`] = value;
  });
  const inputs: Record<string, string | number> = {};
  for (const feature of config.features.computed ?? []) {
    let expression = parsedExpressions.get(feature.expression);
    if (!expression) {
      expression = parseExpression(feature.expression);
      parsedExpressions.set(feature.expression, expression);
    }
    inputs[feature.name] = evaluateExpression(expression, scope) ?? feature.missing;
  }
  for (const feature of config.features.categorical) inputs[feature.name] = String(request[feature.name]);
  return inputs;
}

/** Reads a request or record value as a number; a missing or empty value is null. */
function numberOrNull(value: unknown): number | null {
  if (typeof value === 'number') return value;
  if (value === undefined || value === null || value === '') return null;
  return Number(value);
}

/**
 * Compares the view versions a model was trained on with the views the store serves now. Returns
 * a sentence naming the first mismatch, or undefined when they agree.
 */
export function viewVersionMismatch(modelVersion: string, trained: readonly TrainedViewVersion[] | undefined, views: ReadonlyMap<string, FeatureView>): string | undefined {
  if (!trained || trained.length === 0) return `Model ${modelVersion} records no feature view versions, so its inputs cannot be checked against the store; retrain it.`;
  for (const entry of trained) {
    const view = views.get(entry.view);
    if (!view) return `Model ${modelVersion} was trained on feature view ${entry.view}, which is no longer defined; retrain the model.`;
    if (view.version !== entry.version || view.definitionHash !== entry.hash) {
      return (
        `Model ${modelVersion} was trained on feature view ${entry.view} version ${entry.version} (hash ${entry.hash.slice(0, 12)}), ` +
        `but the store serves version ${view.version} (hash ${view.definitionHash.slice(0, 12)}). Retrain the model on the current view before deciding.`
      );
    }
  }
  return undefined;
}
