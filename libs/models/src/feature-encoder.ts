import { BadUserInputError, digestJson, type FieldError } from '../../common/src/index.js';

/** The inputs of a tabular model: numeric fields, and categorical fields with their declared codes. */
export interface FeatureSpec {
  numeric: string[];
  categorical: { name: string; levels: string[] }[];
}

/** One column of the encoded vector and the feature it comes from. */
export interface EncodedColumn {
  /** `duration_months` for a numeric column, `checking_status=A11` for a one-hot column. */
  name: string;
  feature: string;
  kind: 'numeric' | 'one-hot';
  /** The categorical code this one-hot column stands for. */
  level?: string;
  /** Training mean and standard deviation of a numeric column, to map a standardized value back. */
  mean?: number;
  std?: number;
}

/** The serializable state of a fitted encoder: everything needed to encode a record again. */
export interface EncoderState {
  formatVersion: 1;
  numeric: { name: string; mean: number; std: number }[];
  categorical: { name: string; levels: string[] }[];
}

export type FeatureRecord = Readonly<Record<string, unknown>>;

/**
 * Turns an application record into the model's input vector: numerics standardized with the
 * training mean and standard deviation, categoricals one-hot over their declared levels. The
 * column order is every numeric in spec order, then every categorical's levels in spec order.
 */
export class FeatureEncoder {
  readonly columns: readonly EncodedColumn[];
  private readonly levelIndex: Map<string, Map<string, number>>;

  private constructor(private readonly state: EncoderState) {
    const columns: EncodedColumn[] = state.numeric.map((field) => ({
      name: field.name,
      feature: field.name,
      kind: 'numeric',
      mean: field.mean,
      std: field.std,
    }));
    this.levelIndex = new Map();
    for (const field of state.categorical) {
      const indexByLevel = new Map<string, number>();
      for (const level of field.levels) {
        indexByLevel.set(level, columns.length);
        columns.push({ name: `${field.name}=${level}`, feature: field.name, kind: 'one-hot', level });
      }
      this.levelIndex.set(field.name, indexByLevel);
    }
    this.columns = columns;
  }

  /** Fits the numeric scaling on `rows`, which should be the training split only. */
  static fit(spec: FeatureSpec, rows: readonly FeatureRecord[]): FeatureEncoder {
    validateSpec(spec);
    if (rows.length < 2) {
      throw new BadUserInputError(`At least 2 training rows are needed to fit the feature encoder, got ${rows.length}.`);
    }

    const numeric = spec.numeric.map((name) => {
      const values = rows.map((row, index) => readNumber(row, name, index));
      const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
      const variance = values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / values.length;
      const std = Math.sqrt(variance);
      if (!(std > 0)) {
        throw new BadUserInputError(`Numeric feature ${name} has the same value in every training row, so it cannot be standardized.`, [
          { field: `/${name}`, message: 'is constant in the training rows; drop it from the feature spec' },
        ]);
      }
      return { name, mean, std };
    });

    const categorical = spec.categorical.map((field) => ({ name: field.name, levels: [...field.levels] }));
    return new FeatureEncoder({ formatVersion: 1, numeric, categorical });
  }

  static fromJSON(state: EncoderState): FeatureEncoder {
    if (state?.formatVersion !== 1 || !Array.isArray(state.numeric) || !Array.isArray(state.categorical)) {
      throw new BadUserInputError('Encoder state is not a format version 1 FeatureEncoder state.');
    }
    validateSpec({ numeric: state.numeric.map((field) => field.name), categorical: state.categorical });
    for (const field of state.numeric) {
      if (!Number.isFinite(field.mean) || !(field.std > 0)) {
        throw new BadUserInputError(`Encoder state for ${field.name} needs a finite mean and a positive std.`);
      }
    }
    return new FeatureEncoder(structuredClone(state));
  }

  get width(): number {
    return this.columns.length;
  }

  get spec(): FeatureSpec {
    return {
      numeric: this.state.numeric.map((field) => field.name),
      categorical: this.state.categorical.map((field) => ({ name: field.name, levels: [...field.levels] })),
    };
  }

  /** Encodes one record. Raises BadUserInputError listing every missing or invalid field. */
  encode(record: FeatureRecord): Float64Array {
    const vector = new Float64Array(this.columns.length);
    const errors: FieldError[] = [];

    this.state.numeric.forEach((field, column) => {
      const value = record[field.name];
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        errors.push({ field: `/${field.name}`, message: `must be a finite number, got ${describe(value)}` });
        return;
      }
      vector[column] = (value - field.mean) / field.std;
    });

    for (const field of this.state.categorical) {
      const value = record[field.name];
      const column = typeof value === 'string' ? this.levelIndex.get(field.name)?.get(value) : undefined;
      if (column === undefined) {
        errors.push({ field: `/${field.name}`, message: `must be one of ${field.levels.join(', ')}, got ${describe(value)}` });
        continue;
      }
      vector[column] = 1;
    }

    if (errors.length > 0) {
      const fields = errors.map((error) => error.field.slice(1)).join(', ');
      throw new BadUserInputError(`Invalid application fields: ${fields}. Send the allowed codes and finite numbers.`, errors);
    }
    return vector;
  }

  toJSON(): EncoderState {
    return structuredClone(this.state);
  }

  /** SHA-256 of the RFC 8785 form of the state, which ties an ONNX artifact to its encoder. */
  stateHash(): string {
    return digestJson(this.state);
  }
}

function validateSpec(spec: FeatureSpec): void {
  const errors: FieldError[] = [];
  const seen = new Set<string>();
  const names = [...spec.numeric, ...spec.categorical.map((field) => field.name)];
  for (const name of names) {
    if (typeof name !== 'string' || name === '') errors.push({ field: '/spec', message: 'every feature needs a non-empty name' });
    else if (seen.has(name)) errors.push({ field: `/spec/${name}`, message: 'is declared twice' });
    seen.add(name);
  }
  for (const field of spec.categorical) {
    if (!Array.isArray(field.levels) || field.levels.length === 0) {
      errors.push({ field: `/spec/${field.name}`, message: 'needs at least one declared level' });
    } else if (new Set(field.levels).size !== field.levels.length) {
      errors.push({ field: `/spec/${field.name}`, message: 'declares a level twice' });
    }
  }
  if (names.length === 0) errors.push({ field: '/spec', message: 'declares no features' });
  if (errors.length > 0) throw new BadUserInputError('Invalid feature spec.', errors);
}

function readNumber(row: FeatureRecord, name: string, index: number): number {
  const value = row[name];
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new BadUserInputError(`Training row ${index} has an invalid ${name}.`, [
      { field: `/${index}/${name}`, message: `must be a finite number, got ${describe(value)}` },
    ]);
  }
  return value;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return `"${value.length > 40 ? `${value.slice(0, 40)}...` : value}"`;
  if (typeof value === 'number') return String(value);
  return typeof value;
}
