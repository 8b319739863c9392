import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { parse as parseYaml } from 'yaml';
import { digestJson, FailedPreconditionError } from '../../common/src/index.js';

/** The source file layouts that ingestion reads. */
export const SOURCE_FORMATS = ['csv', 'jsonl', 'data'] as const;
export type SourceFormat = (typeof SOURCE_FORMATS)[number];

/** Bounds of a numeric field. `min`/`max` are inclusive, the `exclusive` ones are strict. */
export interface NumericRange {
  min?: number;
  max?: number;
  exclusiveMin?: number;
  exclusiveMax?: number;
}

/** Data-quality rules checked after the JSON Schema. */
export interface QualityRules {
  ranges: Record<string, NumericRange>;
  /** Allowed codes per field, each with its meaning. Numeric fields compare by decimal text. */
  codes: Record<string, Record<string, string>>;
}

/** Derivation of a record key from the 1-based ordinal of a data row in a file. */
export interface RowKeyRule {
  prefix: string;
  /** Minimum digits; shorter ordinals are zero-padded (`GC-0001`). */
  digits: number;
}

/** Mapping of one source format to the dataset's fields. */
export interface ColumnMapping {
  /** Field name per position, for files without a header. */
  columns?: string[];
  /** Header name to field name, for headers that differ from the field. */
  rename?: Record<string, string>;
  recordKeyFromRow?: RowKeyRule;
}

/**
 * How records of an event dataset carry their event time, and how a replayed file that lacks the
 * key or the time derives them. `warden stream publish` applies the derivations.
 */
export interface EventSettings {
  /** Field with the event time, an ISO 8601 date-time string. */
  timeField: string;
  /** Derives the event time as `epoch + value hours` from an hour-index field (PaySim's `step`). */
  timeFromHourIndex?: { field: string; epoch: string };
  /**
   * Derives a missing record key as `prefix` + the first 24 hex digits of the SHA-256 of the line
   * number and the row's canonical JSON, so the same file replays under the same keys.
   */
  keyFromRowHash?: { prefix: string };
}

/** A JSON Schema object as written in the definition file. */
export type JsonSchemaObject = Record<string, unknown> & { properties: Record<string, Record<string, unknown>> };

/** A dataset definition loaded from policies/datasets, with the hash that batches record. */
export interface DatasetDefinition {
  dataset: string;
  version: string;
  description: string;
  recordKey: string;
  label: string | undefined;
  schema: JsonSchemaObject;
  quality: QualityRules;
  mappings: Partial<Record<SourceFormat, ColumnMapping>>;
  /** Set for datasets of timestamped events, such as transactions read from a stream. */
  events: EventSettings | undefined;
  /** The parsed file, exactly as hashed and stored in the registry. */
  document: Record<string, unknown>;
  /** SHA-256 (hex) of the RFC 8785 canonical JSON of `document`. */
  definitionHash: string;
  /** Path of the file it was loaded from. */
  sourcePath: string;
}

const NAME_PATTERN = '^[a-z][a-z0-9-]{0,62}$';
const FIELD_PATTERN = '^[a-z][a-z0-9_]{0,62}$';

const rangeSchema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    min: { type: 'number' },
    max: { type: 'number' },
    exclusiveMin: { type: 'number' },
    exclusiveMax: { type: 'number' },
  },
};

const mappingSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    columns: { type: 'array', minItems: 1, items: { type: 'string', pattern: FIELD_PATTERN } },
    rename: { type: 'object', additionalProperties: { type: 'string', pattern: FIELD_PATTERN } },
    recordKeyFromRow: {
      type: 'object',
      additionalProperties: false,
      required: ['prefix', 'digits'],
      properties: {
        prefix: { type: 'string', maxLength: 32 },
        digits: { type: 'integer', minimum: 1, maximum: 12 },
      },
    },
  },
};

/** The layout of a definition file itself; the record schema inside is checked by compiling it. */
const definitionFileSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['dataset', 'version', 'recordKey', 'schema'],
  properties: {
    dataset: { type: 'string', pattern: NAME_PATTERN },
    version: { anyOf: [{ type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$' }, { type: 'integer', minimum: 1 }] },
    description: { type: 'string' },
    recordKey: { type: 'string', pattern: FIELD_PATTERN },
    label: { type: 'string', pattern: FIELD_PATTERN },
    schema: {
      type: 'object',
      required: ['type', 'properties'],
      properties: {
        type: { const: 'object' },
        properties: { type: 'object', propertyNames: { pattern: FIELD_PATTERN }, additionalProperties: { type: 'object' } },
      },
    },
    quality: {
      type: 'object',
      additionalProperties: false,
      properties: {
        ranges: { type: 'object', additionalProperties: rangeSchema },
        codes: {
          type: 'object',
          additionalProperties: { type: 'object', minProperties: 1, additionalProperties: { type: 'string' } },
        },
      },
    },
    mappings: {
      type: 'object',
      additionalProperties: false,
      properties: Object.fromEntries(SOURCE_FORMATS.map((format) => [format, mappingSchema])),
    },
    events: {
      type: 'object',
      additionalProperties: false,
      required: ['timeField'],
      properties: {
        timeField: { type: 'string', pattern: FIELD_PATTERN },
        timeFromHourIndex: {
          type: 'object',
          additionalProperties: false,
          required: ['field', 'epoch'],
          properties: {
            field: { type: 'string', pattern: FIELD_PATTERN },
            epoch: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,3})?Z$' },
          },
        },
        keyFromRowHash: {
          type: 'object',
          additionalProperties: false,
          required: ['prefix'],
          properties: { prefix: { type: 'string', maxLength: 32, pattern: '^[A-Za-z0-9._:-]*$' } },
        },
      },
    },
  },
};

const checkDefinitionFile = new Ajv2020({ allErrors: true, strict: true }).compile(definitionFileSchema);

/**
 * Loads every `*.yaml` / `*.yml` file in `<policyDir>/datasets`, keyed by dataset name. A missing
 * folder yields an empty map. A file that breaks the definition layout, or whose record schema
 * does not compile, raises FailedPreconditionError naming the file and the problem, so a bad
 * policy stops Warden at boot instead of at the first batch.
 */
export function loadDatasetDefinitions(policyDir: string): Map<string, DatasetDefinition> {
  const folder = join(policyDir, 'datasets');
  const definitions = new Map<string, DatasetDefinition>();
  if (!existsSync(folder)) return definitions;

  const files = readdirSync(folder)
    .filter((name) => name.endsWith('.yaml') || name.endsWith('.yml'))
    .sort();
  for (const name of files) {
    const path = join(folder, name);
    const definition = parseDatasetDefinition(readFileSync(path, 'utf8'), path);
    const earlier = definitions.get(definition.dataset);
    if (earlier) {
      throw new FailedPreconditionError(
        `Dataset ${definition.dataset} is defined twice, in ${earlier.sourcePath} and ${path}; keep one file per dataset.`,
      );
    }
    definitions.set(definition.dataset, definition);
  }
  return definitions;
}

/** Parses and checks one definition file's text. `sourcePath` is used in messages only. */
export function parseDatasetDefinition(text: string, sourcePath: string): DatasetDefinition {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new FailedPreconditionError(`Dataset definition ${sourcePath} is not valid YAML: ${(error as Error).message}`);
  }
  if (!checkDefinitionFile(document)) {
    const problems = (checkDefinitionFile.errors ?? []).map(describeLayoutError).join('; ');
    throw new FailedPreconditionError(`Dataset definition ${sourcePath} is invalid: ${problems}.`);
  }

  const file = document as Record<string, unknown>;
  const quality = (file.quality ?? {}) as Partial<QualityRules>;
  const definition: DatasetDefinition = {
    dataset: file.dataset as string,
    version: String(file.version),
    description: (file.description as string | undefined) ?? '',
    recordKey: file.recordKey as string,
    label: file.label as string | undefined,
    schema: file.schema as JsonSchemaObject,
    quality: { ranges: quality.ranges ?? {}, codes: quality.codes ?? {} },
    mappings: (file.mappings ?? {}) as Partial<Record<SourceFormat, ColumnMapping>>,
    events: file.events as EventSettings | undefined,
    document: file,
    definitionHash: digestJson(file),
    sourcePath,
  };

  const problems = findReferenceProblems(definition);
  if (problems.length > 0) {
    throw new FailedPreconditionError(`Dataset definition ${sourcePath} is invalid: ${problems.join('; ')}.`);
  }
  try {
    // The same formats as record validation, so a schema may use `format: date-time`.
    const ajv = new Ajv2020({ allErrors: true, strict: true });
    addFormatsModule.default(ajv);
    ajv.compile(definition.schema);
  } catch (error) {
    throw new FailedPreconditionError(
      `Dataset definition ${sourcePath} has a record schema that does not compile as JSON Schema 2020-12: ${(error as Error).message}`,
    );
  }
  return definition;
}

/** Returns the JSON types a schema property allows, such as `['integer']` or `['string', 'null']`. */
export function propertyTypes(definition: DatasetDefinition, field: string): string[] {
  const type = definition.schema.properties[field]?.type;
  if (typeof type === 'string') return [type];
  if (Array.isArray(type)) return type.filter((item): item is string => typeof item === 'string');
  return [];
}

/** Checks that every field named by the rules and mappings exists in the record schema. */
function findReferenceProblems(definition: DatasetDefinition): string[] {
  const problems: string[] = [];
  const properties = definition.schema.properties;
  const required = new Set((definition.schema.required as string[] | undefined) ?? []);
  const isNumeric = (field: string) => propertyTypes(definition, field).some((type) => type === 'integer' || type === 'number');

  if (!properties[definition.recordKey]) problems.push(`recordKey ${definition.recordKey} is not a schema property`);
  else if (!propertyTypes(definition, definition.recordKey).includes('string')) {
    problems.push(`recordKey ${definition.recordKey} must be typed string in the schema`);
  } else if (!required.has(definition.recordKey)) {
    problems.push(`recordKey ${definition.recordKey} must be listed in the schema's required fields`);
  }
  if (definition.label !== undefined && !properties[definition.label]) {
    problems.push(`label ${definition.label} is not a schema property`);
  }

  for (const [field, range] of Object.entries(definition.quality.ranges)) {
    if (!properties[field]) problems.push(`quality.ranges names ${field}, which is not a schema property`);
    else if (!isNumeric(field)) problems.push(`quality.ranges names ${field}, which is not typed integer or number`);
    if (range.min !== undefined && range.exclusiveMin !== undefined) {
      problems.push(`quality.ranges.${field} sets both min and exclusiveMin; keep one`);
    }
    if (range.max !== undefined && range.exclusiveMax !== undefined) {
      problems.push(`quality.ranges.${field} sets both max and exclusiveMax; keep one`);
    }
  }
  for (const field of Object.keys(definition.quality.codes)) {
    if (!properties[field]) problems.push(`quality.codes names ${field}, which is not a schema property`);
  }

  for (const [format, mapping] of Object.entries(definition.mappings)) {
    for (const column of mapping?.columns ?? []) {
      if (!properties[column]) problems.push(`mappings.${format}.columns names ${column}, which is not a schema property`);
    }
    for (const [header, field] of Object.entries(mapping?.rename ?? {})) {
      if (!properties[field]) problems.push(`mappings.${format}.rename maps ${header} to ${field}, which is not a schema property`);
    }
  }
  const events = definition.events;
  if (events) {
    if (!properties[events.timeField]) problems.push(`events.timeField ${events.timeField} is not a schema property`);
    else if (!propertyTypes(definition, events.timeField).includes('string')) {
      problems.push(`events.timeField ${events.timeField} must be typed string (an ISO 8601 date-time) in the schema`);
    }
    const hourIndex = events.timeFromHourIndex;
    if (hourIndex && !isNumeric(hourIndex.field)) problems.push(`events.timeFromHourIndex.field ${hourIndex.field} is not an integer or number schema property`);
    if (hourIndex && Number.isNaN(Date.parse(hourIndex.epoch))) problems.push(`events.timeFromHourIndex.epoch ${hourIndex.epoch} is not a valid date-time`);
  }
  if (definition.mappings.data && !definition.mappings.data.columns) {
    problems.push('mappings.data needs a columns list, because positional files have no header');
  }
  return problems;
}

function describeLayoutError(error: ErrorObject): string {
  const where = error.instancePath === '' ? 'the file' : error.instancePath.slice(1).replaceAll('/', '.');
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'additionalProperties') return `${where} has the unknown key ${String(params.additionalProperty)}`;
  if (error.keyword === 'required') return `${where} is missing ${String(params.missingProperty)}`;
  return `${where} ${error.message ?? 'is invalid'}`;
}
