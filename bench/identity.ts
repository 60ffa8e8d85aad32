/**
 * What the shared-cluster checks cost each node activity: resolving the worker's identity and
 * comparing it with the run's (`assertServes`), the work every activity now does before anything
 * else. Writes bench/results/identity.json.
 *   node --import tsx bench/identity.ts
 */
import { fileURLToPath } from 'node:url';
import { openSession } from '../src/session.js';
import { assertServes, sessionIdentity } from '../src/temporal/identity.js';
import { median, writeResults } from './support.js';

const projectDir = fileURLToPath(new URL('./fixtures/bench-project/', import.meta.url));
const session = await openSession({
  projectDir,
  environment: { MLFLOW_TRACKING_URI: 'http://user:secret@127.0.0.1:5000' },
});
const run = { ...sessionIdentity(session) };
const CALLS = 100_000;
const rounds: number[] = [];
for (let round = 0; round < 7; round++) {
  const started = process.hrtime.bigint();
  for (let call = 0; call < CALLS; call++) assertServes(session, run);
  rounds.push(Number(process.hrtime.bigint() - started) / 1e6 / CALLS);
}
const perNodeMs = median(rounds);
console.log(
  `identity check per node activity: ${(perNodeMs * 1000).toFixed(3)} µs (median of 7 × ${CALLS})`,
);
writeResults('identity', { perNodeCheckMs: perNodeMs, calls: CALLS, rounds: rounds.length });
