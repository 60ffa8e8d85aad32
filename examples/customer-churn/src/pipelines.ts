import { node, pipeline, pipelineMl } from 'temporal-mlflow';
import { makeCustomers } from './data.js';
import { fitFeatureTransform, prepareFeatures, splitCustomers } from './features.js';
import { evaluateChurn, scoreCustomers, trainForest } from './model.js';

/** Fills the warehouse: made-up customers and their outcomes, written to two SQL tables. */
export const seed = pipeline([
  node(makeCustomers, {
    inputs: 'params:synthetic',
    outputs: ['customers', 'churn_outcomes'],
    name: 'make_customers',
  }),
]);

/** Inference: customers as the warehouse holds them → churn answers. */
export const inference = pipeline([
  node(prepareFeatures, {
    inputs: ['customers', 'feature_transform'],
    outputs: 'features',
    name: 'prepare_features',
    tags: ['inference'],
  }),
  node(scoreCustomers, {
    inputs: ['churn_forest', 'features', 'params:churn_threshold'],
    outputs: 'answers',
    name: 'score_customers',
    tags: ['inference'],
  }),
]);

/** Training: fits the feature transform (preprocessing artifact) and the forest (model), then evaluates. */
export const training = pipeline([
  node(splitCustomers, {
    inputs: ['customers', 'churn_labels', 'params:split'],
    outputs: ['train_customers', 'test_customers', 'train_labels', 'test_labels'],
    name: 'split_customers',
  }),
  node(fitFeatureTransform, {
    inputs: 'train_customers',
    outputs: 'feature_transform',
    name: 'fit_feature_transform',
  }),
  node(prepareFeatures, {
    inputs: ['train_customers', 'feature_transform'],
    outputs: 'train_features',
    name: 'prepare_train_features',
  }),
  node(prepareFeatures, {
    inputs: ['test_customers', 'feature_transform'],
    outputs: 'test_features',
    name: 'prepare_test_features',
  }),
  node(trainForest, {
    inputs: ['train_features', 'train_labels', 'params:forest'],
    outputs: 'churn_forest',
    name: 'train_forest',
  }),
  node(scoreCustomers, {
    inputs: ['churn_forest', 'test_features', 'params:churn_threshold'],
    outputs: 'test_answers',
    name: 'score_test_customers',
  }),
  node(evaluateChurn, {
    inputs: ['test_answers', 'test_labels'],
    outputs: 'churn_metrics',
    name: 'evaluate_churn',
  }),
]);

/** Training bound to its inference: when training succeeds, the inference pipeline is logged as a model. */
export const trainingMl = pipelineMl({
  training,
  inference,
  inputName: 'customers',
  logModel: { name: 'model', registeredModelName: 'customer-churn', alias: 'champion' },
});
