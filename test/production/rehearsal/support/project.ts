/**
 * The example project as the rehearsal deploys it: a private copy under its own name, with a
 * `production` environment whose mlflow.yml points at the authenticated MLflow server and names
 * an entry of credentials.yml (as a deployment would mount them; never logged).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { copyExampleAs, type ProjectCopy } from '../../../support/project-copies.js';
import type { MlflowUser } from './stack.js';

export const REHEARSAL_ENV = 'production';
const CREDENTIALS_KEY = 'mlflow_rehearsal';

/** Writes conf/<env>/mlflow.yml and conf/<env>/credentials.yml for `user` on `trackingUri`. */
export function configureEnv(
  projectDir: string,
  env: string,
  trackingUri: string,
  user: MlflowUser,
): void {
  const dir = join(projectDir, 'conf', env);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'mlflow.yml'),
    `server:\n  mlflow_tracking_uri: ${trackingUri}\n  credentials: ${CREDENTIALS_KEY}\n`,
  );
  writeFileSync(
    join(dir, 'credentials.yml'),
    `${CREDENTIALS_KEY}:\n  MLFLOW_TRACKING_USERNAME: ${user.username}\n  MLFLOW_TRACKING_PASSWORD: ${JSON.stringify(user.password)}\n`,
    { mode: 0o600 },
  );
}

/**
 * A copy of the example named `name`, configured for `production`. With `gated`, its first node
 * (`splitTickets`) waits until the file `$REHEARSAL_GATE` exists: runs of this build stay in
 * flight until the test lets them go (its code, so its code hash, differs from an ungated copy).
 */
export function rehearsalProject(
  name: string,
  trackingUri: string,
  user: MlflowUser,
  options: { gated?: boolean } = {},
): ProjectCopy {
  const project = copyExampleAs(name);
  configureEnv(project.dir, REHEARSAL_ENV, trackingUri, user);
  if (options.gated) {
    const nodes = join(project.dir, 'src', 'nodes.ts');
    const text = readFileSync(nodes, 'utf8');
    if (!text.includes('export function splitTickets('))
      throw new Error(`${nodes} no longer defines splitTickets`);
    writeFileSync(
      nodes,
      `${text.replace('export function splitTickets(', 'function splitTicketsNow(')}
/** Rehearsal build 1: waits for $REHEARSAL_GATE, so its runs are in flight during the deploy. */
export async function splitTickets(
  ...args: Parameters<typeof splitTicketsNow>
): Promise<ReturnType<typeof splitTicketsNow>> {
  const gate = process.env.REHEARSAL_GATE;
  while (gate && !(await import('node:fs')).existsSync(gate))
    await new Promise((resolve) => setTimeout(resolve, 100));
  return splitTicketsNow(...args);
}
`,
    );
  }
  return project;
}

/** Opens a gate made for `rehearsalProject({ gated: true })`. */
export function openGate(gate: string): void {
  if (!existsSync(gate)) writeFileSync(gate, 'open\n');
}
