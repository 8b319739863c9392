import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { FieldError } from '../../common/src/index.js';
import { propertyTypes, type DatasetDefinition, type NumericRange } from './dataset-definition.js';

// ajv-formats is CommonJS: TypeScript (NodeNext) types the default import as the module object,
// and at run time the exported function also carries itself as `.default`.
const addFormats = addFormatsModule.default;

/** A record that passed the schema and the data-quality rules, with numbers converted. */
export type DatasetRecord = Record<string, string | number | boolean | null>;

/** The field name used in errors about the record as a whole (not an object, malformed line). */
export const WHOLE_RECORD_FIELD = 'record';

/** One input row: its 1-based position in the source and its value, or the parser's errors. */
export interface SourceRow {
  row: number;
  value: unknown;
  /** Set by a parser that could not read the row; the row is quarantined with these errors. */
  parseErrors?: FieldError[];
}

export type RecordValidation =
  | { ok: true; row: number; recordKey: string; record: DatasetRecord }
  | {
      ok: false;
      row: number;
      /** The row's key when it had a well-formed one. */
      recordKey: string | null;
      errors: FieldError[];
      /** The payload as received, before any conversion, kept for the quarantine. */
      payload: unknown;
    };

/** Maximum length of a string that a message repeats verbatim. Longer values are described by their length. */
const MAX_ECHOED_LENGTH = 32;

const validators = new WeakMap<DatasetDefinition, ValidateFunction>();

/**
 * Validates records against a dataset definition. `records[i]` is reported as row `i + 1`.
 * Returns one result per record, in order.
 */
export function validateRecords(definition: DatasetDefinition, records: readonly unknown[]): RecordValidation[] {
  return validateSourceRows(
    definition,
    records.map((value, index) => ({ row: index + 1, value })),
  );
}

/**
 * Validates parsed rows: the JSON Schema first, then the data-quality ranges and codes, then
 * uniqueness of the record key within the batch (a later row that repeats a key is rejected,
 * whether or not the earlier row was valid). Numeric strings become numbers only in fields the
 * schema types as integer or number.
 */
export function validateSourceRows(definition: DatasetDefinition, rows: readonly SourceRow[]): RecordValidation[] {
  const firstRowByKey = new Map<string, number>();
  return rows.map((row) => {
    const result = validateOne(definition, row);
    if (result.recordKey === null) return result;

    const firstRow = firstRowByKey.get(result.recordKey);
    if (firstRow === undefined) {
      firstRowByKey.set(result.recordKey, row.row);
      return result;
    }
    const duplicate: FieldError = {
      field: definition.recordKey,
      message: `${definition.recordKey} ${quoteShort(result.recordKey)} repeats the key of row ${firstRow} in this batch; each record key must be unique`,
    };
    if (result.ok) return { ok: false, row: row.row, recordKey: result.recordKey, errors: [duplicate], payload: row.value };
    return { ...result, errors: [...result.errors, duplicate] };
  });
}

function validateOne(definition: DatasetDefinition, row: SourceRow): RecordValidation {
  if (row.parseErrors && row.parseErrors.length > 0) {
    return { ok: false, row: row.row, recordKey: null, errors: row.parseErrors, payload: row.value };
  }
  const value = row.value;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    const error = { field: WHOLE_RECORD_FIELD, message: `record must be a JSON object of field names and values, but got ${describeValue(value)}` };
    return { ok: false, row: row.row, recordKey: null, errors: [error], payload: value };
  }

  const unstorable = storabilityErrors(value as Record<string, unknown>);
  if (unstorable.length > 0) return { ok: false, row: row.row, recordKey: null, errors: unstorable, payload: value };

  const candidate = convertNumericStrings(definition, value as Record<string, unknown>);
  const errors = schemaErrors(definition, candidate);
  const failedFields = new Set(errors.map((error) => error.field));
  for (const error of qualityErrors(definition, candidate)) {
    if (!failedFields.has(error.field)) errors.push(error);
  }

  const key = candidate[definition.recordKey];
  const recordKey = typeof key === 'string' && !failedFields.has(definition.recordKey) ? key : null;
  if (errors.length > 0) return { ok: false, row: row.row, recordKey, errors: inFieldOrder(definition, errors), payload: value };
  return { ok: true, row: row.row, recordKey: recordKey as string, record: inSchemaOrder(definition, candidate) };
}

/** Deepest nesting of arrays and objects inside one field value that a record may carry. */
const MAX_VALUE_DEPTH = 16;

/**
 * Finds text that PostgreSQL cannot store in jsonb (U+0000, unpaired UTF-16 surrogates) and
 * nesting deeper than MAX_VALUE_DEPTH, per top-level field. Such a record is quarantined with the
 * field named instead of failing the whole batch at insert time.
 */
function storabilityErrors(record: Record<string, unknown>): FieldError[] {
  const errors: FieldError[] = [];
  for (const [field, value] of Object.entries(record)) {
    const name = isStorableText(field) ? field : quoteShort(field.toWellFormed().replaceAll('\u0000', '\uFFFD'));
    if (!isStorableText(field)) {
      errors.push({ field: WHOLE_RECORD_FIELD, message: `field name ${name} contains U+0000 or an unpaired surrogate; use well-formed UTF-8 text` });
      continue;
    }
    const problem = unstorableValue(value, 1);
    if (problem) errors.push({ field, message: problem });
  }
  return errors;
}

function unstorableValue(value: unknown, depth: number): string | undefined {
  if (typeof value === 'string') {
    return isStorableText(value) ? undefined : 'contains U+0000 or an unpaired surrogate; use well-formed UTF-8 text';
  }
  if (value === null || typeof value !== 'object') return undefined;
  if (depth > MAX_VALUE_DEPTH) return `is nested deeper than ${MAX_VALUE_DEPTH} levels; flatten it`;
  const entries = Array.isArray(value) ? value.map((item) => ['', item] as const) : Object.entries(value);
  for (const [key, item] of entries) {
    if (!isStorableText(key)) return 'contains a key with U+0000 or an unpaired surrogate; use well-formed UTF-8 text';
    const problem = unstorableValue(item, depth + 1);
    if (problem) return problem;
  }
  return undefined;
}

function isStorableText(text: string): boolean {
  return text.isWellFormed() && !text.includes('\u0000');
}

/** Converts numeric strings such as `"24"` or `" 1169.50 "` in integer and number fields. */
function convertNumericStrings(definition: DatasetDefinition, record: Record<string, unknown>): Record<string, unknown> {
  const converted: Record<string, unknown> = { ...record };
  for (const [field, value] of Object.entries(record)) {
    if (typeof value !== 'string') continue;
    const types = propertyTypes(definition, field);
    if (!types.includes('integer') && !types.includes('number')) continue;
    if (/^\s*[+-]?\d+(\.\d+)?\s*$/.test(value)) converted[field] = Number(value);
  }
  return converted;
}

function schemaErrors(definition: DatasetDefinition, record: Record<string, unknown>): FieldError[] {
  const validate = compiledValidator(definition);
  if (validate(record)) return [];

  const errors: FieldError[] = [];
  const seen = new Set<string>();
  for (const error of validate.errors ?? []) {
    const described = describeSchemaError(definition, error, record);
    // One message per field: a wrong type also fails the keywords after it.
    if (seen.has(described.field)) continue;
    seen.add(described.field);
    errors.push(described);
  }
  return errors;
}

function compiledValidator(definition: DatasetDefinition): ValidateFunction {
  let validate = validators.get(definition);
  if (!validate) {
    const ajv = new Ajv2020({ allErrors: true, strict: true });
    addFormats(ajv);
    validate = ajv.compile(definition.schema);
    validators.set(definition, validate);
  }
  return validate;
}

function describeSchemaError(definition: DatasetDefinition, error: ErrorObject, record: Record<string, unknown>): FieldError {
  const params = error.params as Record<string, unknown>;
  const pathField = error.instancePath.slice(1).replaceAll('/', '.');
  const value = pathField === '' ? undefined : record[pathField];

  switch (error.keyword) {
    case 'required': {
      const field = String(params.missingProperty);
      return { field, message: `${field} is missing; every ${definition.dataset} record requires it` };
    }
    case 'additionalProperties': {
      const field = shorten(String(params.additionalProperty));
      return { field, message: `${field} is not a field of dataset ${definition.dataset}; remove it or rename it to a defined field` };
    }
    case 'type': {
      const expected = String(params.type).split(',').map(typeName).join(' or ');
      const hint = expected.includes('integer') || expected.includes('number') ? ' (a JSON number or a numeric string)' : '';
      return { field: pathField, message: `${pathField} must be ${expected}${hint}, but got ${describeValue(value)}` };
    }
    case 'pattern':
      return { field: pathField, message: `${pathField} must match the pattern ${String(params.pattern)}, but got ${describeValue(value)}` };
    case 'minLength':
    case 'maxLength': {
      const property = definition.schema.properties[pathField] ?? {};
      return {
        field: pathField,
        message: `${pathField} must be ${lengthBounds(property.minLength, property.maxLength)} characters long, but got ${describeValue(value)}`,
      };
    }
    case 'enum':
      return {
        field: pathField,
        message: `${pathField} must be one of ${(params.allowedValues as unknown[]).map(String).join(', ')}, but got ${describeValue(value)}`,
      };
    default:
      return { field: pathField || WHOLE_RECORD_FIELD, message: `${pathField || 'record'} ${error.message ?? 'is invalid'}` };
  }
}

/** Range and code checks on fields that are present and have the schema's type. */
function qualityErrors(definition: DatasetDefinition, record: Record<string, unknown>): FieldError[] {
  const errors: FieldError[] = [];
  for (const [field, range] of Object.entries(definition.quality.ranges)) {
    const value = record[field];
    if (typeof value !== 'number') continue;
    if (!inRange(value, range)) {
      errors.push({ field, message: `${field} is ${value}, outside the allowed range: ${describeRange(range)}` });
    }
  }
  for (const [field, codes] of Object.entries(definition.quality.codes)) {
    const value = record[field];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string' && typeof value !== 'number') continue;
    if (Object.hasOwn(codes, String(value))) continue;
    const allowed = Object.keys(codes).join(', ');
    errors.push({ field, message: `${field} has the unknown code ${quoteShort(value)}; allowed codes are ${allowed}` });
  }
  return errors;
}

function inRange(value: number, range: NumericRange): boolean {
  if (range.min !== undefined && value < range.min) return false;
  if (range.exclusiveMin !== undefined && value <= range.exclusiveMin) return false;
  if (range.max !== undefined && value > range.max) return false;
  if (range.exclusiveMax !== undefined && value >= range.exclusiveMax) return false;
  return true;
}

function describeRange(range: NumericRange): string {
  const parts: string[] = [];
  if (range.min !== undefined && range.max !== undefined) return `${range.min} to ${range.max}`;
  if (range.min !== undefined) parts.push(`at least ${range.min}`);
  if (range.exclusiveMin !== undefined) parts.push(`greater than ${range.exclusiveMin}`);
  if (range.max !== undefined) parts.push(`at most ${range.max}`);
  if (range.exclusiveMax !== undefined) parts.push(`less than ${range.exclusiveMax}`);
  return parts.join(' and ');
}

function lengthBounds(min: unknown, max: unknown): string {
  if (typeof min === 'number' && typeof max === 'number') return `${min} to ${max}`;
  if (typeof min === 'number') return `at least ${min}`;
  if (typeof max === 'number') return `at most ${max}`;
  return 'a valid number of';
}

function typeName(type: string): string {
  switch (type) {
    case 'integer':
      return 'an integer';
    case 'object':
    case 'array':
      return `an ${type}`;
    case 'null':
      return 'null';
    default:
      return `a ${type}`;
  }
}

/** Sorts errors by the field's position in the schema; unknown fields and whole-record errors go last. */
function inFieldOrder(definition: DatasetDefinition, errors: FieldError[]): FieldError[] {
  const fields = Object.keys(definition.schema.properties);
  const position = (field: string) => {
    const index = fields.indexOf(field);
    return index === -1 ? fields.length : index;
  };
  return [...errors].sort((a, b) => position(a.field) - position(b.field));
}

function inSchemaOrder(definition: DatasetDefinition, record: Record<string, unknown>): DatasetRecord {
  const ordered: DatasetRecord = {};
  for (const field of Object.keys(definition.schema.properties)) {
    if (record[field] !== undefined) ordered[field] = record[field] as DatasetRecord[string];
  }
  return ordered;
}

/**
 * Describes a value's kind for a message, repeating it only when it is short, so that a message
 * never carries a long raw value (free text may hold personal data).
 */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') {
    if (value.length === 0) return 'an empty string';
    if (value.length > MAX_ECHOED_LENGTH) return `a string of ${value.length} characters`;
    return `the string ${JSON.stringify(value)}`;
  }
  if (typeof value === 'number') return `the number ${value}`;
  if (typeof value === 'boolean') return `the boolean ${value}`;
  if (Array.isArray(value)) return `an array of ${value.length} items`;
  return 'an object';
}

/** Quotes a short code or key for a message, or gives only its length when it is long. */
export function quoteShort(value: string | number): string {
  if (typeof value === 'number') return String(value);
  if (value.length > MAX_ECHOED_LENGTH) return `(a string of ${value.length} characters)`;
  return JSON.stringify(value);
}

function shorten(text: string): string {
  return text.length > MAX_ECHOED_LENGTH ? `${text.slice(0, MAX_ECHOED_LENGTH)}…` : text;
}
