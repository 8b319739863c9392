import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { BadUserInputError, FailedPreconditionError, type FieldError } from '../../../common/src/index.js';
import { OnnxTextModel } from '../../../models/src/index.js';

/**
 * Optional prompt-injection classifier beside the rules: a sequence-classification model exported
 * to ONNX (model.onnx, tokenizer.json and the config.json of its export, whose id2label names the
 * labels) in a folder that policies/guardrails/injection-classifier.yaml names. No weights ship
 * with Warden or are downloaded. Its verdict is recorded separately from the rules' verdict, and a
 * failure follows the onScannerError setting of the use case.
 */

/** One classified text: the most likely label and the probability of the injection label. */
export interface ClassifierResult {
  label: string;
  /** Softmax probability of the injection label, from 0 to 1. */
  score: number;
}

export interface InjectionClassifier {
  readonly name: string;
  classify(texts: readonly string[]): Promise<ClassifierResult[]>;
}

export interface InjectionClassifierSettings {
  /** Model folder, absolute or relative to the policy folder. */
  modelDir: string;
  /** Label whose probability is the injection score; defaults to the first label containing "injection", else label 1. */
  injectionLabel: string | undefined;
  /** Score from which the verdict is flag and block. */
  thresholds: { flag: number; block: number };
  /** Tokens per text; longer texts are cut. */
  maxTokens: number;
}

/** Configured classifier and its settings, or undefined when the policy folder has no classifier file. */
export interface LoadedInjectionClassifier {
  classifier: InjectionClassifier;
  settings: InjectionClassifierSettings;
}

const CLASSIFIER_FILE = join('guardrails', 'injection-classifier.yaml');

/** Reads `<policyDir>/guardrails/injection-classifier.yaml` and loads its model; undefined without the file. */
export async function loadInjectionClassifier(policyDir: string): Promise<LoadedInjectionClassifier | undefined> {
  const path = join(policyDir, CLASSIFIER_FILE);
  if (!existsSync(path)) return undefined;
  const settings = parseClassifierSettings(readFileSync(path, 'utf8'), CLASSIFIER_FILE);
  const folder = isAbsolute(settings.modelDir) ? settings.modelDir : resolve(policyDir, settings.modelDir);
  const classifier = await OnnxInjectionClassifier.load(folder, settings);
  return { classifier, settings };
}

/** Validates the classifier file; raises BadUserInputError with one field error per problem. */
export function parseClassifierSettings(text: string, source: string): InjectionClassifierSettings {
  const root = (parse(text) ?? {}) as Record<string, unknown>;
  const errors: FieldError[] = [];
  if (typeof root.modelDir !== 'string' || root.modelDir.length === 0) errors.push({ field: '/modelDir', message: 'must name the folder with model.onnx and tokenizer.json' });
  if (root.injectionLabel !== undefined && typeof root.injectionLabel !== 'string') errors.push({ field: '/injectionLabel', message: 'must be a label of the model, such as INJECTION' });
  const thresholds = (root.thresholds ?? { flag: 0.5, block: 0.9 }) as { flag?: unknown; block?: unknown };
  const flag = thresholds.flag;
  const block = thresholds.block;
  if (typeof flag !== 'number' || typeof block !== 'number' || !(flag > 0 && flag <= block && block <= 1)) {
    errors.push({ field: '/thresholds', message: 'must be { flag, block } with 0 < flag <= block <= 1' });
  }
  if (root.onError !== undefined) errors.push({ field: '/onError', message: 'is not read here: a classifier failure follows the onScannerError of the use case' });
  const maxTokens = root.maxTokens ?? 512;
  if (!Number.isInteger(maxTokens) || (maxTokens as number) < 8 || (maxTokens as number) > 8192) errors.push({ field: '/maxTokens', message: 'must be a whole number from 8 to 8192' });
  if (errors.length > 0) throw new BadUserInputError(`Invalid injection classifier settings ${source}.`, errors);
  return {
    modelDir: root.modelDir as string,
    injectionLabel: root.injectionLabel as string | undefined,
    thresholds: { flag: flag as number, block: block as number },
    maxTokens: maxTokens as number,
  };
}

/** Verdict of a classifier score under `settings`. */
export function classifierVerdict(score: number, settings: InjectionClassifierSettings): 'pass' | 'flag' | 'block' {
  if (score >= settings.thresholds.block) return 'block';
  if (score >= settings.thresholds.flag) return 'flag';
  return 'pass';
}

/** A sequence classifier whose first output is logits [batch, labels]. */
export class OnnxInjectionClassifier implements InjectionClassifier {
  private constructor(
    private readonly model: OnnxTextModel,
    private readonly labels: string[],
    private readonly injectionIndex: number,
  ) {}

  get name(): string {
    return this.model.name;
  }

  /** Loads the folder and checks the label set. Raises FailedPreconditionError naming the problem. */
  static async load(folder: string, settings: Pick<InjectionClassifierSettings, 'injectionLabel' | 'maxTokens'>): Promise<OnnxInjectionClassifier> {
    const model = await OnnxTextModel.load(folder, { maxTokens: settings.maxTokens, setting: 'modelDir in policies/guardrails/injection-classifier.yaml' });
    const id2label = (model.config.id2label ?? {}) as Record<string, unknown>;
    const probe = await model.run(['label probe']);
    const count = probe.output.dims[1];
    if (probe.output.dims.length !== 2 || count < 2) {
      throw new FailedPreconditionError(`The injection classifier in ${folder} returns shape [${probe.output.dims.join(', ')}]; expected logits [batch, labels] with at least 2 labels.`);
    }
    const labels = Array.from({ length: count }, (_, index) => String(id2label[String(index)] ?? `LABEL_${index}`));
    let injectionIndex: number;
    if (settings.injectionLabel !== undefined) {
      injectionIndex = labels.indexOf(settings.injectionLabel);
      if (injectionIndex === -1) throw new FailedPreconditionError(`The injection classifier in ${folder} has no label ${settings.injectionLabel} (labels: ${labels.join(', ')}). Fix injectionLabel.`);
    } else {
      const named = labels.findIndex((label) => /injection/i.test(label));
      injectionIndex = named === -1 ? 1 : named;
    }
    return new OnnxInjectionClassifier(model, labels, injectionIndex);
  }

  async classify(texts: readonly string[]): Promise<ClassifierResult[]> {
    if (texts.length === 0) return [];
    const { output, batch } = await this.model.run(texts);
    const logits = output.data as Float32Array;
    const count = this.labels.length;
    const results: ClassifierResult[] = [];
    for (let row = 0; row < batch; row += 1) {
      const probabilities = softmax(Array.from(logits.subarray(row * count, (row + 1) * count)));
      const best = probabilities.indexOf(Math.max(...probabilities));
      results.push({ label: this.labels[best], score: probabilities[this.injectionIndex] });
    }
    return results;
  }
}

function softmax(logits: number[]): number[] {
  const max = Math.max(...logits);
  const exps = logits.map((value) => Math.exp(value - max));
  const sum = exps.reduce((total, value) => total + value, 0);
  return exps.map((value) => value / sum);
}
