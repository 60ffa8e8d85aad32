import { defineProject } from 'temporal-mlflow';
import { inference, trainingMl } from './src/pipelines.js';

/** The support-ticket router: `__default__` trains (a PipelineML); `inference` runs on its own. */
export default defineProject({
  name: 'support-tickets',
  pipelines: {
    __default__: trainingMl,
    training: trainingMl,
    inference,
  },
});
