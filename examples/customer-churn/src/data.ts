/**
 * The example's warehouse data, made up and deterministic (a seeded generator): customers of a
 * subscription service (the business objects) and whether each one left (the training target).
 * The `seed` pipeline writes both into SQL tables, where the training pipeline reads them.
 */

/** A customer as the warehouse holds it: the model's input. */
export interface Customer {
  customer_id: string;
  plan: string;
  contract: string;
  payment_method: string;
  region: string;
  tenure_months: number;
  monthly_charges: number;
  support_calls: number;
  late_payments: number;
}

/** Whether a customer left within the observation window. */
export interface ChurnOutcome {
  customer_id: string;
  churned: boolean;
}

export interface SyntheticOptions {
  rows: number;
  /** A 32-bit integer: the same seed makes the same customers. */
  seed: number;
}

/** mulberry32: a small, fast, seedable generator (uniform in [0, 1)). */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const PLANS = [
  { name: 'basic', price: 29 },
  { name: 'standard', price: 59 },
  { name: 'premium', price: 99 },
];
const PAYMENT_METHODS = ['card', 'bank_transfer', 'invoice'];
const REGIONS = ['north', 'south', 'east', 'west'];

/**
 * `rows` customers and their outcomes. Churn is likelier for monthly contracts, short tenures,
 * many support calls, late payments and invoice payers; premium customers stay more.
 */
export function makeCustomers(options: SyntheticOptions): [Customer[], ChurnOutcome[]] {
  const random = generator(options.seed);
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;
  const customers: Customer[] = [];
  const outcomes: ChurnOutcome[] = [];
  for (let i = 1; i <= options.rows; i++) {
    const plan = pick(PLANS);
    const contract = random() < 0.55 ? 'monthly' : 'annual';
    const paymentMethod = pick(PAYMENT_METHODS);
    const tenure = 1 + Math.floor(random() ** 1.5 * 72);
    const supportCalls = Math.min(9, Math.floor(-Math.log(1 - random()) * 1.6));
    const latePayments = Math.min(5, Math.floor(-Math.log(1 - random()) * 0.7));
    // The plan's price plus add-ons, in whole dollars, always ending in .99: a float column everywhere.
    const charges = plan.price + Math.floor(random() * 15) + 0.99;
    const customer: Customer = {
      customer_id: `C${String(i).padStart(5, '0')}`,
      plan: plan.name,
      contract,
      payment_method: paymentMethod,
      region: pick(REGIONS),
      tenure_months: tenure,
      monthly_charges: Math.round(charges * 100) / 100,
      support_calls: supportCalls,
      late_payments: latePayments,
    };
    const logit =
      -1.2 +
      (contract === 'monthly' ? 1.8 : -1.0) -
      0.06 * tenure +
      0.7 * supportCalls +
      0.9 * latePayments +
      (paymentMethod === 'invoice' ? 0.6 : 0) +
      (plan.name === 'premium' ? -0.6 : 0) +
      0.015 * (customer.monthly_charges - 60);
    customers.push(customer);
    outcomes.push({
      customer_id: customer.customer_id,
      churned: random() < 1 / (1 + Math.exp(-logit)),
    });
  }
  return [customers, outcomes];
}
