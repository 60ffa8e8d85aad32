import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import type { Command } from 'commander';
import { join } from 'node:path';
import { loadModel } from '../../model/load-model.js';
import { createWorker } from '../../temporal/worker.js';
import { redactUri } from '../../temporal/identity.js';
import { dataConverterFromEnv } from '../../temporal/codec.js';
import { ensureServices, packageRoot } from '../local-services.js';
import { followTraining } from './train.js';
import { trainingSummary } from '../training-summary.js';

/** Business objects the freshly logged model routes at the end of the main job. */
const SAMPLE_TICKETS = [
  {
    ticket_id: 'NEW-1',
    subject: 'Charged twice',
    body: 'Hello, I was charged twice for my order, please refund the payment.',
  },
  {
    ticket_id: 'NEW-2',
    subject: 'App crashes',
    body: 'The app crashes when I open settings since the update.',
  },
  {
    ticket_id: 'NEW-3',
    subject: 'Where is my parcel',
    body: 'My parcel has not arrived yet and the tracking number does not work.',
  },
  {
    ticket_id: 'NEW-4',
    subject: 'Help',
    body: 'Hello, nothing works as expected. This is the second time I write.',
  },
];

/**
 * The main job (`npm start`): local servers (or the configured ones), a worker, the example trained
 * as a Temporal workflow with live progress, its model logged to MLflow, one prediction with the
 * logged model, and the links to look at everything.
 */
export function registerQuickstartCommand(program: Command): void {
  program
    .command('quickstart')
    .description(
      'train the example on Temporal, log its model to MLflow and predict with it (the main job)',
    )
    .option('--project <dir>', 'project to train', join(packageRoot, 'examples', 'support-tickets'))
    .action(async (options: { project: string }) => {
      const started = performance.now();
      const services = ensureServices((line) => console.log(line));
      // Printed without the credentials a URI may carry (http://user:password@host).
      const trackingUri = redactUri(process.env.MLFLOW_TRACKING_URI ?? '');
      console.log(
        `Temporal: ${process.env.TEMPORAL_ADDRESS} · MLflow: ${trackingUri} (${services})`,
      );
      Runtime.install({ logger: new DefaultLogger('WARN') });
      const nativeConnection = await NativeConnection.connect({
        address: process.env.TEMPORAL_ADDRESS!,
      });
      const connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS! });
      try {
        const worker = await createWorker({
          projectDir: options.project,
          connection: nativeConnection,
        });
        const dataConverter = dataConverterFromEnv();
        const client = new Client({ connection, ...(dataConverter ? { dataConverter } : {}) });
        console.log('training the support-ticket router as a Temporal workflow...');
        const result = await worker.runUntil(
          followTraining(client, {
            projectDir: options.project,
            command: 'npm start',
            wait: true,
          }),
        );
        if (!result?.model || !result.mlflowRunId)
          throw new Error(
            'Training finished without logging a model: is MLflow tracking configured?',
          );
        console.log(
          `trained ${result.nodes} nodes and logged the model in ${(result.durationMs / 1000).toFixed(1)} s`,
        );

        const model = await loadModel(result.model.modelUri);
        const answers = await model.predict(SAMPLE_TICKETS);
        console.log('\nPredictions of the logged model on new tickets:');
        console.table(answers);

        console.log(`\n${await trainingSummary(result.workflowId, result)}`);
        console.log(`Done in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
      } finally {
        await connection.close();
        await nativeConnection.close();
      }
    });
}
