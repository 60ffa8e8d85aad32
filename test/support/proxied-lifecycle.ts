import { randomUUID } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunContext } from '../../src/temporal/types.js';
import { createProjectActivities } from '../../src/temporal/worker.js';
import { lifecycleProject } from './lifecycle.js';
import { MlflowProxy, type ProxiedRequest } from './mlflow-proxy.js';
import { repoRoot } from './services.js';
import { startHarness, type TemporalHarness } from './temporal.js';

/**
 * A copy of the lifecycle fixture whose `local` environment tracks to `trackingUri` (an
 * `MlflowProxy` in front of the real server) in `experiment`; under .local/tmp/<prefix>-*.
 */
export function lifecycleProjectThroughProxy(
  trackingUri: string,
  experiment: string,
  prefix: string,
): string {
  mkdirSync(join(repoRoot, '.local', 'tmp'), { recursive: true });
  const dir = mkdtempSync(join(repoRoot, '.local', 'tmp', `${prefix}-`));
  cpSync(lifecycleProject, dir, { recursive: true });
  mkdirSync(join(dir, 'conf', 'local'), { recursive: true });
  writeFileSync(
    join(dir, 'conf', 'local', 'mlflow.yml'),
    `server:\n  mlflow_tracking_uri: ${trackingUri}\ntracking:\n  experiment:\n    name: ${experiment}\n`,
  );
  return dir;
}

/** `POST runs/create`: a proxied request's method and MLflow endpoint. */
export const endpointOf = (request: ProxiedRequest): string =>
  `${request.method} ${request.url.split('?')[0]!.replace('/api/2.0/mlflow/', '')}`;

/** A worker on the proxied lifecycle fixture, and every MLflow call that went through the proxy. */
export interface ProxiedLifecycle {
  harness: TemporalHarness;
  projectDir: string;
  /** The MLflow calls so far, in order (the proxy forwards each, unless refused). */
  calls: ProxiedRequest[];
  /** From now on, answers 503 to the calls `when` matches (none once `undefined`). */
  refuse(when: ((request: ProxiedRequest) => boolean) | undefined): void;
  close(): Promise<void>;
}

/** Starts the proxy, a copy of the fixture tracking through it to a new experiment, and a worker. */
export async function startProxiedLifecycle(
  prefix: string,
  options: { taskQueue?: string } = {},
): Promise<ProxiedLifecycle> {
  const proxy = new MlflowProxy();
  const calls: ProxiedRequest[] = [];
  let refused: ((request: ProxiedRequest) => boolean) | undefined;
  proxy.rule = (request) => {
    calls.push(request);
    return refused?.(request) ? 'refuse' : 'forward';
  };
  const experiment = `${prefix}-${randomUUID().slice(0, 8)}`;
  const projectDir = lifecycleProjectThroughProxy(await proxy.start(), experiment, prefix);
  let harness: TemporalHarness;
  try {
    harness = await startHarness({ projectDir, ...options });
  } catch (error) {
    await proxy.stop();
    throw error;
  }
  return {
    harness,
    projectDir,
    calls,
    refuse(when) {
      refused = when;
    },
    async close() {
      await harness.close();
      await proxy.stop();
    },
  };
}

/** The training activities of a fixture copy, called directly (not through a worker). */
export function fixtureActivities(projectDir: string) {
  return createProjectActivities(projectDir, {
    storeDir: mkdtempSync(join(tmpdir(), 'tm-store-')),
  });
}

/** The context of a run of the fixture's `sleepy` pipeline, as a workflow would pass it. */
export function sleepyRunContext(workflowId: string, extra: Partial<RunContext> = {}): RunContext {
  return {
    workflowId,
    pipeline: 'sleepy',
    env: 'local',
    params: {},
    identity: { project: 'lifecycle-test-project', env: 'local' },
    codeHash: 'x',
    store: 'local',
    ...extra,
  };
}
