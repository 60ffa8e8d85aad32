import { node, pipeline, pipelineMl } from 'temporal-mlflow';
import {
  evaluateRouting,
  fitVocabulary,
  routeTickets,
  splitTickets,
  trainClassifier,
  vectorize,
} from './nodes.js';

/** Inference: raw tickets (business objects) → routing answers (business answers). */
export const inference = pipeline([
  node(vectorize, {
    inputs: ['instances', 'vocabulary'],
    outputs: 'features',
    name: 'vectorize_tickets',
    tags: ['inference'],
  }),
  node(routeTickets, {
    inputs: ['classifier', 'features', 'params:min_confidence'],
    outputs: 'answers',
    name: 'route_tickets',
    tags: ['inference'],
  }),
]);

/**
 * Training: fits the vocabulary (preprocessing artifact) and the classifier (model), then evaluates.
 * Every node is a pure function, tagged `deterministic`: a retrain with unchanged code, data and
 * parameters restores them from the node cache instead of running them (docs/caching.md).
 */
export const training = pipeline([
  node(splitTickets, {
    inputs: ['instances', 'labels', 'params:split'],
    outputs: ['train_tickets', 'test_tickets', 'train_labels', 'test_labels'],
    name: 'split_tickets',
    tags: ['deterministic'],
  }),
  node(fitVocabulary, {
    inputs: ['train_tickets', 'params:vocabulary'],
    outputs: 'vocabulary',
    name: 'fit_vocabulary',
    tags: ['deterministic'],
  }),
  node(vectorize, {
    inputs: ['train_tickets', 'vocabulary'],
    outputs: 'train_features',
    name: 'vectorize_train',
    tags: ['deterministic'],
  }),
  node(vectorize, {
    inputs: ['test_tickets', 'vocabulary'],
    outputs: 'test_features',
    name: 'vectorize_test',
    tags: ['deterministic'],
  }),
  node(trainClassifier, {
    inputs: ['train_features', 'train_labels', 'vocabulary', 'params:model'],
    outputs: 'classifier',
    name: 'train_classifier',
    tags: ['deterministic'],
    retry: { maximumAttempts: 3 },
  }),
  node(routeTickets, {
    inputs: ['classifier', 'test_features', 'params:min_confidence'],
    outputs: 'test_answers',
    name: 'route_test_tickets',
    tags: ['deterministic'],
  }),
  node(evaluateRouting, {
    inputs: ['test_answers', 'test_labels'],
    outputs: 'routing_metrics',
    name: 'evaluate_routing',
    tags: ['deterministic'],
  }),
]);

/** Training bound to its inference: when training succeeds, the inference pipeline is logged as a model. */
export const trainingMl = pipelineMl({
  training,
  inference,
  inputName: 'instances',
  logModel: { name: 'model', registeredModelName: 'support-ticket-router', alias: 'champion' },
});
