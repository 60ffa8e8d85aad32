/**
 * The customer-churn example's node functions, without servers: the seeded data and forest are
 * the same on every run (what a Temporal retry relies on), and the fitted Arquero transform treats
 * unseen and missing values as documented.
 */
import { makeCustomers } from '../../examples/customer-churn/src/data.js';
import {
  fitFeatureTransform,
  prepareFeatures,
  splitCustomers,
} from '../../examples/customer-churn/src/features.js';
import { scoreCustomers, trainForest } from '../../examples/customer-churn/src/model.js';

const [customers, outcomes] = makeCustomers({ rows: 300, seed: 11 });
const forestOptions = { n_estimators: 5, max_features: 0.5, max_depth: 4, min_samples: 5, seed: 3 };

describe('the customer-churn nodes', () => {
  it('make the same customers, split and forest on every run with the same seeds', () => {
    expect(makeCustomers({ rows: 300, seed: 11 })).toEqual([customers, outcomes]);
    expect(makeCustomers({ rows: 300, seed: 12 })[0]).not.toEqual(customers);
    const [train, test, trainLabels] = splitCustomers(customers, outcomes, { test_ratio: 0.25 });
    expect(train.length + test.length).toBe(300);
    expect(new Set(trainLabels)).toEqual(new Set([0, 1]));
    const features = prepareFeatures(train, fitFeatureTransform(train));
    const first = trainForest(features, trainLabels, forestOptions);
    // Plain data (no class instances): it crosses node threads and Temporal's store as it is.
    expect(structuredClone(first)).toEqual(first);
    expect(trainForest(features, trainLabels, forestOptions)).toEqual(first);
    expect(trainForest(features, trainLabels, { ...forestOptions, seed: 4 })).not.toEqual(first);
  });

  it('standardises numbers, one-hot encodes categories, and gives unseen or missing values neutral features', () => {
    const transform = fitFeatureTransform(customers);
    expect(transform.categories.contract).toEqual(['annual', 'monthly']);
    const [known] = customers;
    const features = prepareFeatures(
      [
        known!,
        { ...known!, plan: 'enterprise' },
        { ...known!, tenure_months: null as unknown as number },
      ],
      transform,
    );
    const column = (name: string) => transform.columns.indexOf(name);
    const { mean, std } = transform.numeric.tenure_months!;
    expect(features.matrix[0]![column('tenure_months')]).toBeCloseTo(
      (known!.tenure_months - mean) / std,
      12,
    );
    expect(features.matrix[0]![column(`plan_${known!.plan}`)]).toBe(1);
    const plans = transform.columns.filter((name) => name.startsWith('plan_')).map(column);
    expect(plans.map((at) => features.matrix[1]![at])).toEqual([0, 0, 0]);
    expect(features.matrix[2]![column('tenure_months')]).toBe(0);
  });

  it('names the missing columns of a request', () => {
    const transform = fitFeatureTransform(customers);
    const { region: _region, plan: _plan, ...partial } = customers[0]!;
    expect(() => prepareFeatures([partial as never], transform)).toThrow(
      'the customers have no column plan, region',
    );
  });

  it('scores the share of trees voting "churns" against the threshold', () => {
    const [train, , trainLabels] = splitCustomers(customers, outcomes, { test_ratio: 0.25 });
    const transform = fitFeatureTransform(train);
    const features = prepareFeatures(customers.slice(0, 40), transform);
    const forest = trainForest(prepareFeatures(train, transform), trainLabels, forestOptions);
    const answers = scoreCustomers(forest, features, 0.4);
    for (const answer of answers) {
      expect(answer.churn_probability * forestOptions.n_estimators).toBeCloseTo(
        Math.round(answer.churn_probability * forestOptions.n_estimators),
        4,
      );
      expect(answer.at_risk).toBe(answer.churn_probability >= 0.4);
    }
    expect(answers.map((answer) => answer.customer_id)).toEqual(features.ids);
  });
});
