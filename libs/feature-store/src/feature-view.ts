import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import { parse as parseYaml } from 'yaml';
import { digestJson, FailedPreconditionError } from '../../common/src/index.js';
import { propertyTypes, type DatasetDefinition } from '../../ingestion/src/index.js';
import { ExpressionError, parseExpression, referencedNames, type Expression } from './expression.js';
import { parseDuration } from './windows.js';

export const AGGREGATION_FUNCTIONS = ['count', 'sum', 'mean', 'min', 'max', 'distinct_count'] as const;
export type AggregationFunction = (typeof AGGREGATION_FUNCTIONS)[number];

/** One windowed aggregation of a view. `field` is absent for `count`. */
export interface Aggregation {
  name: string;
  function: AggregationFunction;
  field: string | undefined;
  windowMs: number;
}

export interface DerivedFeature {
  name: string;
  expression: Expression;
}

/** A feature view loaded from policies/features, with the hash that reads and training sets record. */
export interface FeatureView {
  name: string;
  version: string;
  description: string;
  /** Dataset whose records feed the view. */
  source: string;
  /** Field of the source records that identifies the entity, such as a customer id. */
  entity: string;
  /** Field with the event time, taken from the source dataset's `events.timeField`. */
  timeField: string;
  bucketMs: number;
  aggregations: Aggregation[];
  /** Values the caller passes with a read, usable in derived expressions. */
  inputs: string[];
  derived: DerivedFeature[];
  /** Maximum window width of the view. */
  maxWindowMs: number;
  /**
   * Field whose per-bucket value count is the event count: a summed field that every record
   * must have, or `*` (a separate count row) when the view sums no such field.
   */
  countField: string;
  document: Record<string, unknown>;
  /** SHA-256 (hex) of the RFC 8785 canonical JSON of `document`. */
  definitionHash: string;
  sourcePath: string;
}

const NAME_PATTERN = '^[a-z][a-z0-9-]{0,62}$';
const FIELD_PATTERN = '^[a-z][a-z0-9_]{0,62}$';

const viewFileSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['view', 'version', 'source', 'entity', 'bucket', 'aggregations'],
  properties: {
    view: { type: 'string', pattern: NAME_PATTERN },
    version: { anyOf: [{ type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$' }, { type: 'integer', minimum: 1 }] },
    description: { type: 'string' },
    source: { type: 'string', pattern: NAME_PATTERN },
    entity: { type: 'string', pattern: FIELD_PATTERN },
    bucket: { type: 'string' },
    aggregations: {
      type: 'array',
      minItems: 1,
      maxItems: 64,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'function', 'window'],
        properties: {
          name: { type: 'string', pattern: FIELD_PATTERN },
          function: { enum: [...AGGREGATION_FUNCTIONS] },
          field: { type: 'string', pattern: FIELD_PATTERN },
          window: { type: 'string' },
        },
      },
    },
    inputs: { type: 'array', maxItems: 64, items: { type: 'string', pattern: FIELD_PATTERN } },
    derived: {
      type: 'array',
      maxItems: 64,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'expression'],
        properties: { name: { type: 'string', pattern: FIELD_PATTERN }, expression: { type: 'string', minLength: 1 } },
      },
    },
  },
};

const checkViewFile = new Ajv2020({ allErrors: true, strict: true }).compile(viewFileSchema);

/**
 * Loads every `*.yaml` / `*.yml` file in `<policyDir>/features`, keyed by view name, and checks
 * each against the dataset it reads. A missing folder yields an empty map. A bad file raises
 * FailedPreconditionError naming the file and the problem.
 */
export function loadFeatureViews(policyDir: string, datasets: ReadonlyMap<string, DatasetDefinition>): Map<string, FeatureView> {
  const folder = join(policyDir, 'features');
  const views = new Map<string, FeatureView>();
  if (!existsSync(folder)) return views;
  const files = readdirSync(folder)
    .filter((name) => name.endsWith('.yaml') || name.endsWith('.yml'))
    .sort();
  for (const name of files) {
    const path = join(folder, name);
    const view = parseFeatureView(readFileSync(path, 'utf8'), path, datasets);
    const earlier = views.get(view.name);
    if (earlier) throw new FailedPreconditionError(`Feature view ${view.name} is defined twice, in ${earlier.sourcePath} and ${path}; keep one file per view.`);
    views.set(view.name, view);
  }
  return views;
}

/** Parses and checks one feature view file. `sourcePath` is used in messages only. */
export function parseFeatureView(text: string, sourcePath: string, datasets: ReadonlyMap<string, DatasetDefinition>): FeatureView {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new FailedPreconditionError(`Feature view ${sourcePath} is not valid YAML: ${(error as Error).message}`);
  }
  const fail = (problems: string[]) => new FailedPreconditionError(`Feature view ${sourcePath} is invalid: ${problems.join('; ')}.`);
  if (!checkViewFile(document)) throw fail((checkViewFile.errors ?? []).map(describeLayoutError));

  const file = document as {
    view: string;
    version: string | number;
    description?: string;
    source: string;
    entity: string;
    bucket: string;
    aggregations: { name: string; function: AggregationFunction; field?: string; window: string }[];
    inputs?: string[];
    derived?: { name: string; expression: string }[];
  };
  const problems: string[] = [];
  const dataset = datasets.get(file.source);
  if (!dataset) {
    throw fail([`source ${file.source} is not a defined dataset; defined datasets: ${[...datasets.keys()].sort().join(', ') || 'none'}`]);
  }
  if (!dataset.events) throw fail([`source ${file.source} has no events section with a time field, so it cannot feed windowed features`]);
  const hasField = (field: string) => Object.hasOwn(dataset.schema.properties, field);
  const isNumeric = (field: string) => propertyTypes(dataset, field).some((type) => type === 'integer' || type === 'number');

  if (!hasField(file.entity)) problems.push(`entity ${file.entity} is not a field of dataset ${file.source}`);
  const bucketMs = parseDuration(file.bucket);
  if (bucketMs === undefined) problems.push(`bucket ${JSON.stringify(file.bucket)} is not a duration such as 1m, 1h or 1d`);

  const names = new Set<string>();
  const claim = (name: string, where: string) => {
    if (names.has(name)) problems.push(`${where} ${name} repeats a name; every feature and input needs its own name`);
    names.add(name);
  };
  const aggregations: Aggregation[] = [];
  for (const item of file.aggregations) {
    const where = `aggregation ${item.name}`;
    claim(item.name, 'aggregation');
    const windowMs = parseDuration(item.window);
    if (windowMs === undefined) problems.push(`${where} has window ${JSON.stringify(item.window)}, which is not a duration such as 1h, 24h or 30d`);
    else if (bucketMs !== undefined && windowMs % bucketMs !== 0) problems.push(`${where} has window ${item.window}, which is not a whole number of ${file.bucket} buckets`);
    if (item.function === 'count' && item.field !== undefined) problems.push(`${where} counts events and takes no field; remove field`);
    if (item.function !== 'count') {
      if (item.field === undefined) problems.push(`${where} needs a field for ${item.function}`);
      else if (!hasField(item.field)) problems.push(`${where} reads ${item.field}, which is not a field of dataset ${file.source}`);
      else if (item.function !== 'distinct_count' && !isNumeric(item.field)) problems.push(`${where} reads ${item.field}, which is not typed integer or number`);
    }
    aggregations.push({ name: item.name, function: item.function, field: item.field, windowMs: windowMs ?? 0 });
  }

  const inputs = file.inputs ?? [];
  for (const input of inputs) claim(input, 'input');
  const derived: DerivedFeature[] = [];
  for (const item of file.derived ?? []) {
    claim(item.name, 'derived feature');
    try {
      const expression = parseExpression(item.expression);
      for (const name of referencedNames(expression)) {
        if (!names.has(name) || name === item.name) problems.push(`derived feature ${item.name} reads ${name}, which is not an aggregation, input or earlier derived feature`);
      }
      derived.push({ name: item.name, expression });
    } catch (error) {
      if (!(error instanceof ExpressionError)) throw error;
      problems.push(`derived feature ${item.name} has an invalid expression: ${error.message}`);
    }
  }
  if (problems.length > 0) throw fail(problems);

  return {
    name: file.view,
    version: String(file.version),
    description: file.description ?? '',
    source: file.source,
    entity: file.entity,
    timeField: dataset.events.timeField,
    bucketMs: bucketMs as number,
    aggregations,
    inputs,
    derived,
    maxWindowMs: Math.max(...aggregations.map((aggregation) => aggregation.windowMs)),
    countField: chooseCountField(aggregations, dataset),
    document: file as unknown as Record<string, unknown>,
    definitionHash: digestJson(file),
    sourcePath,
  };
}

/**
 * Picks a summed field that the schema requires and types as a number without null, because its
 * value count per bucket equals the event count, so no separate count row has to be written.
 */
function chooseCountField(aggregations: readonly Aggregation[], dataset: DatasetDefinition): string {
  const required = new Set((dataset.schema.required as string[] | undefined) ?? []);
  for (const aggregation of aggregations) {
    if (aggregation.function === 'count' || aggregation.function === 'distinct_count' || aggregation.field === undefined) continue;
    const types = propertyTypes(dataset, aggregation.field);
    if (required.has(aggregation.field) && !types.includes('null') && types.length > 0) return aggregation.field;
  }
  return '*';
}

/** Fields of the source records that the view sums (every function but count and distinct_count). */
export function numericFields(view: FeatureView): string[] {
  const fields = view.aggregations
    .filter((aggregation) => aggregation.function !== 'count' && aggregation.function !== 'distinct_count')
    .map((aggregation) => aggregation.field as string);
  return [...new Set(fields)];
}

/** Fields of the source records that the view counts distinct values of. */
export function distinctFields(view: FeatureView): string[] {
  return [...new Set(view.aggregations.filter((aggregation) => aggregation.function === 'distinct_count').map((aggregation) => aggregation.field as string))];
}

function describeLayoutError(error: ErrorObject): string {
  const where = error.instancePath === '' ? 'the file' : error.instancePath.slice(1).replaceAll('/', '.');
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'additionalProperties') return `${where} has the unknown key ${String(params.additionalProperty)}`;
  if (error.keyword === 'required') return `${where} is missing ${String(params.missingProperty)}`;
  return `${where} ${error.message ?? 'is invalid'}`;
}
