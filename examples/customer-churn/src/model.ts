/**
 * The churn model: a random forest of mljs (`ml-random-forest`), trained with a fixed seed so a
 * retry or a retrain on the same data makes the same forest. Its state is the library's own JSON
 * (`toJSON` / `RandomForestClassifier.load`), persisted by the catalog and packaged with the model.
 */
import { RandomForestClassifier } from 'ml-random-forest';
import type { Features } from './features.js';

/** `RandomForestClassifier.toJSON()`: what `RandomForestClassifier.load` takes back. */
export type ForestState = ReturnType<RandomForestClassifier['toJSON']>;

export interface ForestOptions {
  n_estimators: number;
  /** Share of the features each tree sees (0 to 1). */
  max_features: number;
  max_depth: number;
  min_samples: number;
  /** A 32-bit integer: sample and feature draws. */
  seed: number;
}

/** The model's answer for one customer. */
export interface ChurnAnswer {
  customer_id: string;
  /** Share of the trees that vote "churns", rounded to 6 decimals. */
  churn_probability: number;
  /** `churn_probability >= churn_threshold`: worth a retention offer. */
  at_risk: boolean;
}

export function trainForest(
  features: Features,
  labels: number[],
  options: ForestOptions,
): ForestState {
  const forest = new RandomForestClassifier({
    nEstimators: options.n_estimators,
    maxFeatures: options.max_features,
    replacement: false,
    useSampleBagging: true,
    noOOB: true,
    seed: options.seed,
    isClassifier: true,
    treeOptions: { maxDepth: options.max_depth, minNumSamples: options.min_samples },
  });
  forest.train(features.matrix, labels);
  // toJSON() keeps the trees as class instances (each with its own toJSON): plain data crosses
  // threads and processes, so the state is the JSON text read back.
  return JSON.parse(JSON.stringify(forest)) as ForestState;
}

/**
 * The share of trees voting 1 per row. (`predictProbability` of ml-random-forest 2.1.0 reduces
 * the votes without an initial value, so the first tree's vote is miscounted: not used.)
 */
function churnShare(forest: RandomForestClassifier, matrix: number[][]): number[] {
  if (matrix.length === 0) return [];
  const votes = forest.predictionValues(matrix);
  return matrix.map((_, row) => {
    const trees = votes.getRow(row);
    const yes = trees.filter((vote) => vote === 1).length;
    return Math.round((yes / trees.length) * 1e6) / 1e6;
  });
}

export function scoreCustomers(
  state: ForestState,
  features: Features,
  churnThreshold: number,
): ChurnAnswer[] {
  const forest = RandomForestClassifier.load(state);
  return churnShare(forest, features.matrix).map((probability, i) => ({
    customer_id: features.ids[i]!,
    churn_probability: probability,
    at_risk: probability >= churnThreshold,
  }));
}

/** Metrics on the test customers, in MlflowMetricsHistoryDataset's `{name: {value, step}}` form. */
export function evaluateChurn(
  answers: ChurnAnswer[],
  labels: number[],
): Record<string, { value: number; step: number }> {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let correct = 0;
  answers.forEach((answer, i) => {
    const actual = labels[i] === 1;
    if (answer.at_risk === actual) correct++;
    if (answer.at_risk && actual) tp++;
    if (answer.at_risk && !actual) fp++;
    if (!answer.at_risk && actual) fn++;
  });
  const metric = (value: number) => ({ value, step: 0 });
  return {
    accuracy: metric(correct / answers.length),
    precision: metric(tp + fp === 0 ? 0 : tp / (tp + fp)),
    recall: metric(tp + fn === 0 ? 0 : tp / (tp + fn)),
    churn_rate: metric(labels.filter((label) => label === 1).length / labels.length),
    test_size: metric(answers.length),
  };
}
