/**
 * The rehearsal's production stack, as real processes on loopback:
 * - PostgreSQL (scripts/postgres: reused when running, else started and stopped again), with a
 *   database of its own for MLflow's backend store and one for MLflow's users;
 * - MLflow with authentication (`mlflow server --app-name basic-auth`) on that store, an admin
 *   from its basic_auth.ini and a `trainer` user that the project's credentials.yml names;
 * - a Temporal dev server reachable only through a TLS-terminating gRPC proxy that requires a
 *   client certificate (mTLS) and an API key.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../../support/services.js';
import { makeTestPki, type TestPki } from './certs.js';
import { startGrpcTlsProxy, type GrpcTlsProxy } from './grpc-tls-proxy.js';
import {
  cleanEnv,
  freePort,
  GaveUp,
  startProcess,
  waitUntil,
  type StartedProcess,
} from './processes.js';

const venvBin = join(repoRoot, '.venv', 'bin');
export const temporalCli = join(venvBin, 'temporal');
const postgresScript = join(repoRoot, 'scripts', 'postgres');

export interface MlflowUser {
  username: string;
  password: string;
}

export interface RehearsalStack {
  pki: TestPki;
  apiKey: string;
  /** The TLS endpoint (the proxy); the dev server's own port is for the test's admin calls only. */
  temporalAddress: string;
  temporalPlainAddress: string;
  proxy: GrpcTlsProxy;
  mlflowUri: string;
  admin: MlflowUser;
  trainer: MlflowUser;
  /** MLflow's backend store URL (password inside: never printed by the tests). */
  backendStoreUri: string;
  /** Flags for `temporal-mlflow worker|train` to reach Temporal with TLS, mTLS and the API key. */
  connectionArgs: string[];
  /** Environment for those commands: TEMPORAL_API_KEY, nothing of the shared servers. */
  connectionEnv: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

function postgres(...args: string[]): string {
  return execFileSync('bash', [postgresScript, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}

async function startTemporal(): Promise<{ process: StartedProcess; address: string }> {
  const [port, uiPort, httpPort, metricsPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const process = startProcess('temporal', temporalCli, [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--ui-port',
    String(uiPort),
    '--http-port',
    String(httpPort),
    '--metrics-port',
    String(metricsPort),
    '--headless',
    '--log-level',
    'warn',
    '--search-attribute',
    'PipelineName=Keyword',
    '--search-attribute',
    'MlflowRunId=Keyword',
    '--dynamic-config-value',
    'system.enableActivityEagerExecution=true',
    '--dynamic-config-value',
    'history.transferProcessorMaxPollRPS=1000',
    '--dynamic-config-value',
    'matching.numTaskqueueReadPartitions=1',
    '--dynamic-config-value',
    'matching.numTaskqueueWritePartitions=1',
  ]);
  const address = `127.0.0.1:${port}`;
  await waitUntil(
    'the Temporal dev server',
    () => {
      if (process.child.exitCode !== null) throw new GaveUp(`temporal exited: ${process.output()}`);
      execFileSync(temporalCli, ['operator', 'cluster', 'health', '--address', address], {
        stdio: 'ignore',
      });
      return true;
    },
    60_000,
    300,
  );
  return { process, address };
}

async function startMlflow(
  backendStoreUri: string,
  authDatabaseUri: string,
  admin: MlflowUser,
): Promise<{ process: StartedProcess; uri: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'tm-rehearsal-mlflow-'));
  const port = await freePort();
  const authConfig = join(dir, 'basic_auth.ini');
  writeFileSync(
    authConfig,
    [
      '[mlflow]',
      // MANAGE, not READ: `--store mlflow` keeps intermediate datasets under
      // mlflow-artifacts:/temporal-mlflow-intermediate/<workflow id>, outside every experiment, so
      // basic-auth checks them against the default permission (PUT needs EDIT, DELETE needs MANAGE).
      'default_permission = MANAGE',
      `database_uri = ${authDatabaseUri}`,
      `admin_username = ${admin.username}`,
      `admin_password = ${admin.password}`,
      'authorization_function = mlflow.server.auth:authenticate_request_basic_auth',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const process = startProcess(
    'mlflow',
    join(venvBin, 'mlflow'),
    [
      'server',
      '--app-name',
      'basic-auth',
      '--backend-store-uri',
      backendStoreUri,
      '--artifacts-destination',
      join(dir, 'artifacts'),
      '--serve-artifacts',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--workers',
      '2',
    ],
    {
      env: cleanEnv({
        PATH: `${venvBin}:${globalThis.process.env.PATH}`,
        MLFLOW_AUTH_CONFIG_PATH: authConfig,
        MLFLOW_FLASK_SERVER_SECRET_KEY: randomBytes(24).toString('hex'),
        MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false',
        MLFLOW_DISABLE_TELEMETRY: 'true',
        DO_NOT_TRACK: 'true',
      }),
    },
  );
  const uri = `http://127.0.0.1:${port}`;
  await waitUntil(
    'the MLflow server (basic-auth, PostgreSQL store)',
    async () => {
      if (process.child.exitCode !== null)
        throw new GaveUp(`mlflow exited:\n${process.output().slice(-3000)}`);
      return (await fetch(`${uri}/health`)).ok;
    },
    120_000,
    300,
  );
  return { process, uri };
}

const basic = (user: MlflowUser): string =>
  `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`;

async function createMlflowUser(uri: string, admin: MlflowUser, user: MlflowUser): Promise<void> {
  const response = await fetch(`${uri}/api/2.0/mlflow/users/create`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: basic(admin) },
    body: JSON.stringify(user),
  });
  if (!response.ok)
    throw new Error(`creating MLflow user ${user.username}: HTTP ${response.status}`);
}

export async function startRehearsalStack(): Promise<RehearsalStack> {
  const pki = makeTestPki();
  const apiKey = `rehearsal-${randomBytes(16).toString('hex')}`;
  const suffix = randomUUID().replaceAll('-', '').slice(0, 10);
  const stoppers: (() => Promise<void> | void)[] = [];
  const stop = async (): Promise<void> => {
    for (const stopper of stoppers.reverse()) {
      try {
        await stopper();
      } catch {
        // Keep stopping the rest.
      }
    }
  };
  try {
    // PostgreSQL first (the others need it); reused when it runs, stopped again when we started it.
    const wasRunning = (() => {
      try {
        postgres('status');
        return true;
      } catch {
        return false;
      }
    })();
    const temporalStarting = startTemporal();
    if (!wasRunning) {
      postgres('start');
      stoppers.push(() => void postgres('stop'));
    }
    const store = `rehearsal_${suffix}`;
    const users = `rehearsal_auth_${suffix}`;
    // SQLAlchemy URLs naming the driver that scripts/setup installs (psycopg2-binary).
    const sqlalchemy = (url: string): string => url.replace(/^postgresql:/, 'postgresql+psycopg2:');
    const backendStoreUri = sqlalchemy(postgres('createdb', store));
    const authDatabaseUri = sqlalchemy(postgres('createdb', users));
    stoppers.push(() => {
      postgres('dropdb', store);
      postgres('dropdb', users);
    });
    const admin = { username: 'admin', password: `admin-${randomBytes(12).toString('hex')}` };
    const trainer = { username: 'trainer', password: `trainer-${randomBytes(12).toString('hex')}` };
    const [temporal, mlflow] = await Promise.all([
      temporalStarting,
      startMlflow(backendStoreUri, authDatabaseUri, admin),
    ]);
    stoppers.push(() => temporal.process.stop().then(() => undefined));
    stoppers.push(() => mlflow.process.stop().then(() => undefined));
    await createMlflowUser(mlflow.uri, admin, trainer);
    const proxy = await startGrpcTlsProxy({
      upstream: temporal.address,
      serverCert: pki.serverCert,
      serverKey: pki.serverKey,
      clientCa: pki.caCert,
      apiKey,
    });
    stoppers.push(() => proxy.close());
    return {
      pki,
      apiKey,
      temporalAddress: proxy.address,
      temporalPlainAddress: temporal.address,
      proxy,
      mlflowUri: mlflow.uri,
      admin,
      trainer,
      backendStoreUri,
      connectionArgs: [
        '--address',
        proxy.address,
        '--tls-ca',
        pki.caCert,
        '--tls-cert',
        pki.clientCert,
        '--tls-key',
        pki.clientKey,
      ],
      connectionEnv: cleanEnv({ TEMPORAL_API_KEY: apiKey }),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
