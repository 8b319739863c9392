import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import { isValidSubjectId, MAX_SUBJECT_ID_LENGTH } from '../../audit/src/index.js';
import { BadUserInputError, parseDateTime, type FieldError } from '../../common/src/index.js';
import type { RequestConfig } from './feature-view-use-case.js';
import type { UseCaseConfig } from './use-case-config.js';

/** Entity keys, such as a customer id that a feature view is keyed by. */
const ENTITY_KEY_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:-]*$';

/** Maximum length of a value in a field the use case excludes, in characters. */
const MAX_EXCLUDED_FIELD_LENGTH = 64;

/** Application fields after validation: only model features remain, in a stable key order. */
export type ValidatedApplication = Record<string, string | number>;

export interface ApplicationValidator {
  /** Raises BadUserInputError with one message per bad field, or returns the model's inputs. */
  validate(application: unknown): { features: ValidatedApplication; droppedFields: string[]; subjectId: string | null };
}

/**
 * Builds a validator for decision requests from the use case's feature list. Fields the use case
 * excludes (prohibited bases) are accepted but dropped before anything is scored or stored.
 */
export function createApplicationValidator(config: UseCaseConfig): ApplicationValidator {
  if (config.request) return createRequestValidator(config.request, config.dataSubject?.idField ?? null);
  const properties: Record<string, object> = {};
  for (const feature of config.features.numeric) {
    properties[feature.name] = { type: feature.integer ? 'integer' : 'number', minimum: feature.minimum, maximum: feature.maximum };
  }
  for (const feature of config.features.categorical) {
    properties[feature.name] = { type: 'string', enum: feature.levels };
  }
  const excluded = new Set(config.excludedFields.map((field) => field.name));
  // Excluded fields are dropped unread, but still bounded so that they cannot carry bulk data.
  for (const name of excluded) properties[name] = { type: ['string', 'number', 'null'], maxLength: MAX_EXCLUDED_FIELD_LENGTH };
  const required = [...config.features.numeric, ...config.features.categorical].map((feature) => feature.name);
  const featureOrder = [...required].sort();
  const subjectField = config.dataSubject?.idField;
  if (subjectField) {
    // Printable characters only: the id is encrypted, never shown, and must compare exactly at erasure.
    properties[subjectField] = { type: 'string', minLength: 1, maxLength: MAX_SUBJECT_ID_LENGTH, pattern: '^[^\\u0000-\\u001f\\u007f]*$' };
    if (config.dataSubject?.required) required.push(subjectField);
  }

  const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
  const check = ajv.compile({ type: 'object', properties, required, additionalProperties: false });

  return {
    validate(application: unknown) {
      if (application === null || typeof application !== 'object' || Array.isArray(application)) {
        throw new BadUserInputError('The application must be a JSON object of field names and values.', [
          { field: 'application', message: 'must be an object such as {"duration_months": 24, ...}' },
        ]);
      }
      if (!check(application)) {
        const fieldErrors = (check.errors ?? []).map(describeError);
        throw new BadUserInputError(`The application has ${fieldErrors.length} invalid field(s).`, fieldErrors);
      }
      const input = application as Record<string, string | number>;
      const features: ValidatedApplication = {};
      for (const name of featureOrder) features[name] = input[name];
      const droppedFields = Object.keys(input).filter((name) => excluded.has(name)).sort();
      const subjectId = subjectField && typeof input[subjectField] === 'string' ? (input[subjectField] as string) : null;
      if (subjectField && subjectId !== null && !isValidSubjectId(subjectId)) {
        // The same rule as warden erase, so that every accepted subject can be erased later.
        throw new BadUserInputError(`The application has an invalid ${subjectField}.`, [
          { field: subjectField, message: `must be 1 to ${MAX_SUBJECT_ID_LENGTH} UTF-16 code units of well-formed, printable text` },
        ]);
      }
      return { features, droppedFields, subjectId };
    },
  };
}

/** How far a request's event time may lie ahead of the server clock, for clock skew between systems. */
const MAX_FUTURE_SKEW_MS = 5 * 60_000;

/**
 * Builds a validator for the request of a use case that reads feature views: numeric and
 * categorical fields, entity ids, and the event time that features are read as of. The event
 * time comes back as ISO 8601 in UTC, so equal instants give equal digests. `subjectField`, one
 * of the entities, names the data subject, and its value stays a request value as well.
 */
function createRequestValidator(request: RequestConfig, subjectField: string | null): ApplicationValidator {
  const properties: Record<string, object> = {
    [request.asOf]: { type: 'string', minLength: 10, maxLength: 40 },
  };
  for (const field of request.numeric) properties[field.name] = { type: 'number', minimum: field.minimum, maximum: field.maximum };
  for (const field of request.categorical) properties[field.name] = { type: 'string', enum: field.levels };
  for (const name of request.entities) properties[name] = { type: 'string', minLength: 1, maxLength: 64, pattern: ENTITY_KEY_PATTERN };
  const required = Object.keys(properties);
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  const check = ajv.compile({ type: 'object', properties, required, additionalProperties: false });
  const fieldOrder = [...required].sort();

  return {
    validate(application: unknown) {
      if (application === null || typeof application !== 'object' || Array.isArray(application)) {
        throw new BadUserInputError('The request must be a JSON object of field names and values.', [
          { field: 'application', message: `must be an object with the fields ${fieldOrder.join(', ')}` },
        ]);
      }
      if (!check(application)) {
        const fieldErrors = (check.errors ?? []).map(describeError);
        throw new BadUserInputError(`The request has ${fieldErrors.length} invalid field(s).`, fieldErrors);
      }
      const input = application as Record<string, string | number>;
      const time = parseDateTime(input[request.asOf]);
      if (!time) {
        throw new BadUserInputError(`The request has an invalid ${request.asOf}.`, [
          { field: request.asOf, message: 'must be an existing ISO 8601 date-time from 1970 on with a time zone, such as 2026-01-01T10:15:00Z' },
        ]);
      }
      if (time.getTime() > Date.now() + MAX_FUTURE_SKEW_MS) {
        throw new BadUserInputError(`The request has an invalid ${request.asOf}.`, [
          { field: request.asOf, message: 'lies more than 5 minutes in the future; send the time the payment was initiated' },
        ]);
      }
      const features: ValidatedApplication = {};
      for (const name of fieldOrder) features[name] = name === request.asOf ? time.toISOString() : input[name];
      // Entity keys match ENTITY_KEY_PATTERN and are at most 64 characters, so they pass isValidSubjectId.
      const subjectId = subjectField === null ? null : String(input[subjectField]);
      return { features, droppedFields: [], subjectId };
    },
  };
}

function describeError(error: ErrorObject): FieldError {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return { field: String(params.missingProperty), message: 'is required' };
    case 'additionalProperties':
      return { field: String(params.additionalProperty), message: 'is not a field of this use case; remove it' };
    case 'enum':
      return { field: fieldName(error), message: `must be one of ${(params.allowedValues as string[]).join(', ')}` };
    case 'type':
      return { field: fieldName(error), message: `must be ${Array.isArray(params.type) ? `one of the types ${params.type.join(', ')}` : `of type ${String(params.type)}`}` };
    case 'minLength':
      return { field: fieldName(error), message: params.limit === 1 ? 'must not be empty' : `must be at least ${String(params.limit)} characters` };
    case 'pattern':
      // Entity keys and the data-subject id have different patterns, so the message follows the pattern.
      return {
        field: fieldName(error),
        message: params.pattern === ENTITY_KEY_PATTERN
          ? 'must start with a letter or digit and contain only letters, digits, ".", "_", ":" and "-"'
          : 'must not contain control characters',
      };
    case 'maxLength':
      return { field: fieldName(error), message: `must be at most ${String(params.limit)} characters` };
    case 'minimum':
    case 'maximum':
      return { field: fieldName(error), message: `must be ${error.keyword === 'minimum' ? '>=' : '<='} ${String(params.limit)}` };
    default:
      return { field: fieldName(error), message: error.message ?? 'is invalid' };
  }
}

function fieldName(error: ErrorObject): string {
  return error.instancePath.replace(/^\//, '') || 'application';
}
