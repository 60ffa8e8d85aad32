import { defineProject } from 'temporal-mlflow';
import { inference, seed, trainingMl } from './src/pipelines.js';

/**
 * Customer churn on a SQL warehouse: `seed` fills the tables, `__default__` trains (a PipelineML
 * whose inference pipeline prepares features with Arquero and scores with an mljs random forest).
 */
export default defineProject({
  name: 'customer-churn',
  pipelines: {
    __default__: trainingMl,
    training: trainingMl,
    inference,
    seed,
  },
});
