/**
 * Feature preparation with Arquero data frames: a transform fitted on the training customers
 * (numeric columns standardised, categorical columns one-hot encoded on the categories seen in
 * training) and applied the same way at training and at inference. The fitted transform is plain
 * JSON, persisted by the catalog and packaged with the model.
 */
import * as aq from 'arquero';
import type { ChurnOutcome, Customer } from './data.js';

export const NUMERIC_COLUMNS = [
  'tenure_months',
  'monthly_charges',
  'support_calls',
  'late_payments',
] as const;
export const CATEGORICAL_COLUMNS = ['plan', 'contract', 'payment_method', 'region'] as const;

/** The fitted preparation: what `prepareFeatures` needs to turn customers into model inputs. */
export interface FeatureTransform {
  /** Mean and (population) standard deviation of each numeric column in training. */
  numeric: Record<string, { mean: number; std: number }>;
  /** The categories seen in training, sorted, per categorical column. */
  categories: Record<string, string[]>;
  /** The feature matrix's columns, in order. */
  columns: string[];
}

/** The model inputs of a batch of customers. */
export interface Features {
  ids: string[];
  /** One row per customer, `FeatureTransform.columns` in order. */
  matrix: number[][];
}

/** Customers with their outcome (an Arquero left join), split by a hash of the id. */
export function splitCustomers(
  customers: Customer[],
  outcomes: ChurnOutcome[],
  split: { test_ratio: number },
): [Customer[], Customer[], number[], number[]] {
  const joined = aq
    .from(customers)
    .join_left(aq.from(outcomes), 'customer_id')
    .orderby('customer_id');
  const unlabelled = joined.filter((d: { churned: unknown }) => d.churned == null).numRows();
  if (unlabelled > 0)
    throw new Error(
      `${unlabelled} customers have no row in the churn outcomes (dataset 'churn_labels'): every training customer needs one.`,
    );
  const isTest = (id: string): boolean => {
    let hash = 2166136261;
    for (const char of id) hash = Math.imul(hash ^ char.charCodeAt(0), 16777619) >>> 0;
    return hash / 2 ** 32 < split.test_ratio;
  };
  const part = (test: boolean): [Customer[], number[]] => {
    const rows = joined.filter(
      aq.escape((d: { customer_id: string }) => isTest(String(d.customer_id)) === test),
    );
    const labels = (rows.array('churned') as unknown[]).map((churned) => (churned ? 1 : 0));
    return [rows.select(aq.not('churned')).objects() as Customer[], labels];
  };
  const [train, trainLabels] = part(false);
  const [test, testLabels] = part(true);
  return [train, test, trainLabels, testLabels];
}

/** Fits the transform on the training customers. */
export function fitFeatureTransform(customers: Customer[]): FeatureTransform {
  const table = aq.from(customers);
  const stats = table
    .rollup(
      Object.fromEntries(
        NUMERIC_COLUMNS.flatMap((column) => [
          [`${column}__mean`, aq.op.mean(column)],
          [`${column}__std`, aq.op.stdevp(column)],
        ]),
      ),
    )
    .object() as Record<string, number>;
  const numeric = Object.fromEntries(
    NUMERIC_COLUMNS.map((column) => [
      column,
      { mean: stats[`${column}__mean`]!, std: stats[`${column}__std`] || 1 },
    ]),
  );
  const categories = Object.fromEntries(
    CATEGORICAL_COLUMNS.map((column) => [
      column,
      (table.select(column).dedupe().orderby(column).array(column) as unknown[]).map(String),
    ]),
  );
  const columns = [
    ...NUMERIC_COLUMNS,
    ...CATEGORICAL_COLUMNS.flatMap((column) =>
      categories[column]!.map((value) => `${column}_${value}`),
    ),
  ];
  return { numeric, categories, columns };
}

/**
 * The model inputs of `customers`: numeric columns standardised (a missing value counts as the
 * training mean), one column per training category (an unseen category is all zeros).
 */
export function prepareFeatures(customers: Customer[], transform: FeatureTransform): Features {
  const required = [...NUMERIC_COLUMNS, ...CATEGORICAL_COLUMNS, 'customer_id'];
  const missing = required.filter(
    (column) => customers.length > 0 && !customers.some((row) => column in row),
  );
  if (missing.length > 0)
    throw new Error(
      `the customers have no column ${missing.sort().join(', ')}: send every column of the warehouse's customers table.`,
    );
  const derived: Record<string, unknown> = {};
  for (const column of NUMERIC_COLUMNS) {
    const { mean, std } = transform.numeric[column]!;
    derived[column] = aq.escape((d: Record<string, unknown>) =>
      d[column] == null ? 0 : (Number(d[column]) - mean) / std,
    );
  }
  for (const column of CATEGORICAL_COLUMNS) {
    for (const value of transform.categories[column]!) {
      derived[`${column}_${value}`] = aq.escape((d: Record<string, unknown>) =>
        String(d[column]) === value ? 1 : 0,
      );
    }
  }
  const table = aq
    .from(customers)
    .derive(derived as Parameters<aq.ColumnTable['derive']>[0])
    .select(transform.columns);
  const columns = transform.columns.map((column) => table.array(column) as ArrayLike<number>);
  return {
    ids: customers.map((customer) => String(customer.customer_id)),
    matrix: customers.map((_, row) => columns.map((values) => values[row]!)),
  };
}
