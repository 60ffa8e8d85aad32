import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '../support/services.js';

/** The parts of a compose service these checks read. */
interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string | string[];
  environment?: Record<string, string | number | null> | string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[] };
  volumes?: Array<string | { type?: string; source?: string }>;
  profiles?: string[];
  ports?: Array<string | number | { host_ip?: string; published?: string | number }>;
}
interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

const read = (path: string): string => readFileSync(join(repoRoot, path), 'utf8');
const compose = parse(read('docker-compose.yml'), { merge: true }) as ComposeFile;
const services = compose.services;
const serviceNames = Object.keys(services).sort();
const entries = Object.entries(services);

/** Compose `${VAR:-default}` interpolation, with the defaults (what `docker compose up` sees with no .env). */
const interpolate = (value: string): string =>
  value.replace(
    /\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}/g,
    (_m, _name, fallback: string | undefined) => fallback ?? '',
  );
const environmentOf = (service: ComposeService): Record<string, string> => {
  const env = service.environment ?? {};
  const pairs = Array.isArray(env)
    ? env.map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)])
    : Object.entries(env).map(([key, value]) => [key, String(value ?? '')]);
  return Object.fromEntries(pairs.map(([key, value]) => [key, interpolate(value as string)]));
};
const dependsOn = (service: ComposeService): Record<string, string> => {
  const deps = service.depends_on ?? [];
  return Array.isArray(deps)
    ? Object.fromEntries(deps.map((name) => [name, 'service_started']))
    : Object.fromEntries(
        Object.entries(deps).map(([name, spec]) => [name, spec.condition ?? 'service_started']),
      );
};
const commandOf = (service: ComposeService): string[] =>
  (Array.isArray(service.command) ? service.command : (service.command ?? '').split(/\s+/))
    .map(String)
    .map(interpolate);
const flagValue = (args: string[], flag: string): string | undefined => {
  const at = args.indexOf(flag);
  return at >= 0
    ? args[at + 1]
    : args.find((arg) => arg.startsWith(`${flag}=`))?.slice(flag.length + 1);
};
const buildOf = (service: ComposeService): { context: string; dockerfile: string } | undefined => {
  if (!service.build) return undefined;
  const build = typeof service.build === 'string' ? { context: service.build } : service.build;
  const context = build.context ?? '.';
  return { context, dockerfile: join(context, build.dockerfile ?? 'Dockerfile') };
};
/** An image reference with a release tag: not `latest`, at least major.minor (`16.10`, `1.32.0`, `2.54.1`). */
const isPinned = (image: string): boolean => {
  const tag = /^[^@]+:([^/:@]+)$/.exec(image)?.[1];
  return tag !== undefined && tag !== 'latest' && /^v?\d+\.\d+/.test(tag);
};
/** `FROM` images of a Dockerfile, with its `ARG` defaults substituted. */
const dockerfileBases = (path: string): string[] => {
  const text = read(path);
  const args = Object.fromEntries(
    [...text.matchAll(/^ARG\s+(\w+)=(\S+)/gm)].map((m) => [m[1], m[2]]),
  );
  return [...text.matchAll(/^FROM\s+(\S+)/gm)]
    .map((m) =>
      (m[1] as string).replace(
        /\$\{?(\w+)\}?/g,
        (_all, name: string) => args[name] ?? `<unset ${name}>`,
      ),
    )
    .filter((image) => !/^[a-z][\w-]*$/.test(image)); // a bare name is an earlier stage
};
const hostOf = (address: string): string =>
  new URL(address.includes('://') ? address : `grpc://${address}`).hostname;

describe('docker-compose.yml', () => {
  it('is valid YAML with services, and every service named in depends_on exists', () => {
    expect(serviceNames.length).toBeGreaterThan(0);
    const missing = entries.flatMap(([name, service]) =>
      Object.keys(dependsOn(service))
        .filter((dep) => !(dep in services))
        .map((dep) => `${name} → ${dep}`),
    );
    expect(missing).toEqual([]);
  });

  it.each(
    entries.filter(([, s]) => s.image && !s.build).map(([name, s]) => [name, s.image as string]),
  )('pins the upstream image of %s to a release tag (%s)', (_name, image) => {
    expect(isPinned(image)).toBe(true);
  });

  it.each(
    entries.filter(([, s]) => s.build).map(([name, s]) => [name, buildOf(s)?.dockerfile as string]),
  )(
    'builds %s from a Dockerfile in the repository (%s) whose base images are pinned',
    (_name, dockerfile) => {
      expect(existsSync(join(repoRoot, dockerfile))).toBe(true);
      const bases = dockerfileBases(dockerfile);
      expect(bases.length).toBeGreaterThan(0);
      expect(bases.filter((image) => !isPinned(image))).toEqual([]);
    },
  );

  it('declares every named volume and every bind mount exists in the repository', () => {
    const declared = Object.keys(compose.volumes ?? {});
    const problems = entries.flatMap(([name, service]) =>
      (service.volumes ?? []).flatMap((volume) => {
        const source =
          typeof volume === 'string' ? (volume.split(':')[0] ?? '') : (volume.source ?? '');
        if (source.startsWith('.') || source.startsWith('/')) {
          return existsSync(join(repoRoot, source))
            ? []
            : [`${name}: bind mount ${source} does not exist`];
        }
        return declared.includes(source) ? [] : [`${name}: volume ${source} is not declared`];
      }),
    );
    expect(problems).toEqual([]);
  });

  it.each(['postgresql', 'temporal', 'mlflow'])('gives %s a healthcheck', (name) => {
    expect(services[name]?.healthcheck?.test).toBeDefined();
  });

  it('waits for healthy services only where they have a healthcheck', () => {
    const problems = entries.flatMap(([name, service]) =>
      Object.entries(dependsOn(service))
        .filter(
          ([dep, condition]) => condition === 'service_healthy' && !services[dep]?.healthcheck,
        )
        .map(([dep]) => `${name} waits for ${dep} to be healthy but it has no healthcheck`),
    );
    expect(problems).toEqual([]);
  });

  describe('the worker', () => {
    const worker = services.worker as ComposeService;
    const env = environmentOf(worker ?? {});

    it('is built from the repository Dockerfile and runs `worker`', () => {
      expect(buildOf(worker)).toEqual({ context: '.', dockerfile: 'Dockerfile' });
      expect(commandOf(worker)[0]).toBe('worker');
    });

    it('depends on the Temporal and MLflow services', () => {
      expect(dependsOn(worker)).toMatchObject({
        temporal: 'service_healthy',
        mlflow: 'service_healthy',
      });
    });

    it.each([
      ['TEMPORAL_ADDRESS', 'temporal'],
      ['MLFLOW_TRACKING_URI', 'mlflow'],
    ])('gets %s pointing at the %s service defined in the file', (variable, service) => {
      const value = env[variable];
      expect(value).toBeDefined();
      expect(hostOf(value as string)).toBe(service);
      expect(serviceNames).toContain(service);
    });

    it('shares no disk between replicas: unpersisted datasets go through MLflow', () => {
      expect(flagValue(commandOf(worker), '--store')).toBe('mlflow');
    });
  });

  describe('the MLflow server', () => {
    const args = commandOf(services.mlflow as ComposeService);

    it('allows its service name as a Host header', () => {
      const allowed = flagValue(args, '--allowed-hosts')?.split(',') ?? [];
      expect(allowed).toEqual(expect.arrayContaining(['mlflow', 'mlflow:5000']));
    });

    it('keeps runs in PostgreSQL on a service of the file and serves artifacts', () => {
      const backend = new URL(flagValue(args, '--backend-store-uri') ?? '');
      // The driver named as the rehearsal's MLflow server uses it (SQLAlchemy 2.1 would pick psycopg 3).
      expect(backend.protocol).toBe('postgresql+psycopg2:');
      expect(serviceNames).toContain(backend.hostname);
      expect(args).toContain('--serve-artifacts');
      expect(flagValue(args, '--artifacts-destination')).toBeDefined();
    });

    it('installs the psycopg2 release the rehearsal runs with', () => {
      const pinned = /^psycopg2-binary==(\S+)$/m.exec(read('scripts/python-requirements.txt'))?.[1];
      expect(pinned).toBeDefined();
      expect(read('docker/mlflow/Dockerfile')).toContain(`ARG PSYCOPG2_VERSION=${pinned}`);
    });

    it('installs the same mlflow release as scripts/python-requirements.txt', () => {
      const pinned = /^mlflow==(\S+)$/m.exec(read('scripts/python-requirements.txt'))?.[1];
      const dockerfile = buildOf(services.mlflow as ComposeService)?.dockerfile as string;
      expect(pinned).toBeDefined();
      expect(/^ARG MLFLOW_VERSION=(\S+)$/m.exec(read(dockerfile))?.[1]).toBe(pinned);
    });
  });

  it('points the Temporal UI at the temporal service', () => {
    const address = environmentOf(services['temporal-ui'] as ComposeService)
      .TEMPORAL_ADDRESS as string;
    expect(hostOf(address)).toBe('temporal');
    expect(dependsOn(services['temporal-ui'] as ComposeService)).toHaveProperty('temporal');
  });

  it('runs the same Temporal release for the server and its schema and namespace jobs', () => {
    const tagOf = (name: string) => services[name]?.image?.split(':')[1];
    expect(new Set(['temporal', 'temporal-schema', 'temporal-namespace'].map(tagOf)).size).toBe(1);
    expect(dependsOn(services.temporal as ComposeService)).toEqual({
      'temporal-schema': 'service_completed_successfully',
    });
    expect(dependsOn(services.worker as ComposeService)).toHaveProperty(
      'temporal-namespace',
      'service_completed_successfully',
    );
  });

  it.each([
    ['model-server', 'serve', 'serve'],
    ['codec-server', 'codec', 'codec-server'],
  ])('puts the optional %s under the %s profile, running `%s`', (name, profile, command) => {
    const service = services[name] as ComposeService;
    expect(service.profiles).toEqual([profile]);
    expect(commandOf(service)[0]).toBe(command);
    expect(buildOf(service)?.dockerfile).toBe('Dockerfile');
  });

  it('publishes the codec server on the host loopback only and requires its token', () => {
    const service = services['codec-server'] as ComposeService;
    const ports = (service.ports ?? []).map(String);
    expect(ports).toEqual(['127.0.0.1:8888:8888']);
    const args = commandOf(service);
    const tokenEnv = flagValue(args, '--token-env');
    expect(tokenEnv).toBe('TEMPORAL_MLFLOW_CODEC_TOKEN');
    expect(args).not.toContain('--insecure-no-token');
    // The token comes from the environment (.env), never from the command line or a default.
    expect(service.environment).toHaveProperty(
      tokenEnv as string,
      '${TEMPORAL_MLFLOW_CODEC_TOKEN:-}',
    );
    expect(read('docker-compose.yml')).not.toMatch(/TEMPORAL_MLFLOW_CODEC_TOKEN:-[^}]/);
    // The UI sends the codec server's session cookie (browsers cannot add a bearer header).
    expect(environmentOf(services['temporal-ui'] as ComposeService)).toHaveProperty(
      'TEMPORAL_CODEC_INCLUDE_CREDENTIALS',
      'true',
    );
  });

  it('serves a registered model from MLflow with the model server', () => {
    const service = services['model-server'] as ComposeService;
    const args = commandOf(service);
    expect(flagValue(args, '-m')).toMatch(/^models:\/[^@/]+@\w+$/);
    expect(flagValue(args, '--host')).toBe('0.0.0.0');
    expect(hostOf(environmentOf(service).MLFLOW_TRACKING_URI as string)).toBe('mlflow');
  });
});

describe('the Docker build context', () => {
  it.each(['.venv', '.local', 'node_modules'])('leaves %s out of the image', (entry) => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((line) => line.trim());
    expect(ignored).toContain(entry);
  });

  it('runs the CLI, a worker on the example project by default', () => {
    const dockerfile = read('Dockerfile');
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "bin\/temporal-mlflow\.js"\]$/m);
    expect(dockerfile).toMatch(
      /^CMD \["worker", "--project", "\/app\/examples\/support-tickets"\]$/m,
    );
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
  });
});
