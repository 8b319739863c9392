import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { digestJson, NotFoundError, PolicyFileError } from '../../common/src/index.js';
import type { FeatureView } from '../../feature-store/src/index.js';
import { resolveReviewConfig, type ReviewConfig } from '../../review/src/index.js';
import { checkFeatureViewSections, checkViewBindings, type ComputedFeatureConfig, type FeatureViewReference, type RequestConfig } from './feature-view-use-case.js';

/** A numeric model input with the range an application must respect. */
export interface NumericFeatureConfig {
  name: string;
  minimum: number;
  maximum: number;
  /** Rejects fractional values when true. */
  integer?: boolean;
}

export interface CategoricalFeatureConfig {
  name: string;
  levels: string[];
}

/** One use case as declared in policies/use-cases/<name>.yaml. */
export interface UseCaseConfig {
  useCase: string;
  version: string;
  description: string;
  dataset: string;
  label: { field: string; positiveValue: number | string };
  /**
   * Model inputs. A use case without featureViews takes numeric and categorical fields from the
   * request as they are; one with featureViews computes its numeric inputs (`computed`).
   */
  features: { numeric: NumericFeatureConfig[]; categorical: CategoricalFeatureConfig[]; computed?: ComputedFeatureConfig[] };
  /** Request fields, for a use case with featureViews; otherwise the features are the request. */
  request?: RequestConfig;
  /** Feature views read at decision time, pinned to versions. */
  featureViews?: FeatureViewReference[];
  excludedFields: { name: string; reason: string }[];
  training: { seed: number; holdoutFraction: number; l2: number };
  bands: { approveBelow: number; declineAtOrAbove: number };
  reasonCodes: { map: string; max: number };
  /** Review routing, hold mode and the stop switch's behaviour; defaults fill what the file omits. */
  review: ReviewConfig;
  /**
   * The data subject of each decision: the request field that names the applicant (or, for a use
   * case with a request, the entity id of the payer). When the field is sent, the record's
   * personal fields are encrypted under that subject's key, which `warden erase` destroys.
   * Absent: records are stored unencrypted and cannot be erased by subject.
   */
  dataSubject?: DataSubjectConfig;
}

export interface DataSubjectConfig {
  /**
   * Field holding the bank's id of the data subject: a field beside the features, such as
   * applicantId, or one of `request.entities`, such as the payer's account id.
   */
  idField: string;
  /** Rejects applications without the field when true. Must be true for a request entity. */
  required: boolean;
}

/** A loaded use case with the SHA-256 of its canonical JSON, recorded in every decision. */
export interface LoadedUseCase {
  config: UseCaseConfig;
  configHash: string;
}

/** Raised at load time: a use-case file that does not describe a usable use case. */
export class UseCaseConfigError extends PolicyFileError {
  constructor(file: string, problem: string) {
    super(`Invalid use-case file ${file}: ${problem}`);
    this.name = 'UseCaseConfigError';
  }
}

/** Reads and checks every use case under `<policyDir>/use-cases`. */
export function loadUseCases(policyDir: string): Map<string, LoadedUseCase> {
  const folder = join(policyDir, 'use-cases');
  const useCases = new Map<string, LoadedUseCase>();
  if (!existsSync(folder)) return useCases;

  for (const file of readdirSync(folder).filter((name) => name.endsWith('.yaml')).sort()) {
    const config = parse(readFileSync(join(folder, file), 'utf8')) as UseCaseConfig;
    checkUseCase(file, config);
    useCases.set(config.useCase, { config, configHash: digestJson(config) });
  }
  return useCases;
}

function checkUseCase(file: string, config: UseCaseConfig): void {
  if (!config || typeof config.useCase !== 'string') throw new UseCaseConfigError(file, 'useCase must be a string');
  if (`${config.useCase}.yaml` !== file) throw new UseCaseConfigError(file, `useCase "${config.useCase}" must match the file name`);
  const { approveBelow, declineAtOrAbove } = config.bands ?? {};
  if (!(approveBelow > 0 && approveBelow <= declineAtOrAbove && declineAtOrAbove < 1)) {
    throw new UseCaseConfigError(file, 'bands must satisfy 0 < approveBelow <= declineAtOrAbove < 1');
  }
  if (!config.features || !Array.isArray(config.features.numeric) || !Array.isArray(config.features.categorical)) {
    throw new UseCaseConfigError(file, 'features.numeric and features.categorical must be lists (use [] for none)');
  }
  if (config.featureViews !== undefined) {
    const problem = checkFeatureViewSections(config);
    if (problem) throw new UseCaseConfigError(file, problem);
  } else if (config.request !== undefined || config.features.computed !== undefined) {
    throw new UseCaseConfigError(file, 'request and features.computed are only allowed together with featureViews');
  }
  const names = [...config.features.numeric, ...(config.features.computed ?? []), ...config.features.categorical].map((feature) => feature.name);
  if (new Set(names).size !== names.length) throw new UseCaseConfigError(file, 'a feature is declared twice');
  for (const excluded of config.excludedFields ?? []) {
    if (names.includes(excluded.name)) throw new UseCaseConfigError(file, `${excluded.name} is both a feature and excluded`);
  }
  if (!(config.reasonCodes?.max >= 1 && config.reasonCodes.max <= 4)) {
    throw new UseCaseConfigError(file, 'reasonCodes.max must be between 1 and 4');
  }
  if (config.dataSubject !== undefined) {
    const problem = checkDataSubject(config, names);
    if (problem) throw new UseCaseConfigError(file, problem);
  }
  // Review thresholds may name numeric request fields (such as amount) as well as numeric model inputs.
  const numericNames = [...config.features.numeric, ...(config.features.computed ?? []), ...(config.request?.numeric ?? [])].map((feature) => feature.name);
  const review = resolveReviewConfig(config.review, numericNames, [...names, ...(config.request?.numeric ?? []).map((feature) => feature.name)]);
  if (typeof review === 'string') throw new UseCaseConfigError(file, review);
  config.review = review;
}

/**
 * Checks `dataSubject`. An application use case names a field of its own beside the features (such
 * as applicantId), which may be optional. A use case with a request names one of the request's
 * entity ids (such as the payer's account), which every request carries.
 */
function checkDataSubject(config: UseCaseConfig, featureNames: string[]): string | undefined {
  const { idField, required } = config.dataSubject ?? {};
  if (typeof idField !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(idField)) {
    return config.request
      ? `dataSubject.idField must name the request entity that identifies the data subject, one of: ${config.request.entities.join(', ')}`
      : 'dataSubject.idField must name the request field that identifies the applicant, such as applicantId';
  }
  if (typeof required !== 'boolean') return 'dataSubject.required must be true or false';
  if (config.request) {
    if (!config.request.entities.includes(idField)) {
      return `dataSubject.idField ${idField} must be one of the request entities (${config.request.entities.join(', ')}), because the subject id is read from the validated request`;
    }
    if (!required) return `dataSubject.required must be true: ${idField} is a request entity, which every request carries`;
    return undefined;
  }
  if (featureNames.includes(idField) || (config.excludedFields ?? []).some((excluded) => excluded.name === idField)) {
    return `dataSubject.idField ${idField} must not be a feature or an excluded field`;
  }
  return undefined;
}

/** Looks up a use case by name and raises NOT_FOUND with the known names otherwise. */
export function requireUseCase(useCases: Map<string, LoadedUseCase>, name: string, otherKnownNames: readonly string[] = []): LoadedUseCase {
  const found = useCases.get(name);
  if (!found) {
    const known = [...useCases.keys(), ...otherKnownNames].join(', ') || 'none';
    const shown = name.length > 64 ? `${name.slice(0, 64)}...` : name;
    throw new NotFoundError(`Unknown use case "${shown}". Known use cases: ${known}.`);
  }
  return found;
}

/**
 * Checks every use case that reads feature views against the views the feature store loaded,
 * and raises UseCaseConfigError naming the file and each problem.
 */
export function checkUseCaseViews(useCases: ReadonlyMap<string, LoadedUseCase>, features: { views: ReadonlyMap<string, FeatureView> }): void {
  for (const { config } of useCases.values()) {
    if (config.featureViews === undefined) continue;
    const problems = checkViewBindings(config, features.views);
    if (problems.length > 0) throw new UseCaseConfigError(`${config.useCase}.yaml`, problems.join('; '));
  }
}
