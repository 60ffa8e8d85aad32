import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadServicesEnv } from '../../src/cli/common.js';
import { httpEndpointFrom } from '../../src/cli/connection.js';
import { CliUsageError } from '../../src/cli/errors.js';

/** Which HTTP API `train` may send its start to: pure rules over flags and environment. */
const KEYS = [
  'TEMPORAL_ADDRESS',
  'TEMPORAL_HTTP_ADDRESS',
  'TEMPORAL_API_KEY',
  'TEMPORAL_MLFLOW_CODEC_KEY',
  'TEMPORAL_UI_URL',
  'MLFLOW_TRACKING_URI',
] as const;
const saved = Object.fromEntries(KEYS.map((key) => [key, process.env[key]]));
beforeEach(() => KEYS.forEach((key) => delete process.env[key]));
afterAll(() =>
  KEYS.forEach((key) =>
    saved[key] === undefined ? delete process.env[key] : (process.env[key] = saved[key]),
  ),
);

const url = (result: ReturnType<typeof httpEndpointFrom>) =>
  'endpoint' in result ? result.endpoint.url.href : result.skipped;

describe('httpEndpointFrom', () => {
  it('takes --http-address, else TEMPORAL_HTTP_ADDRESS with the gRPC address of the same environment', () => {
    expect(url(httpEndpointFrom({ httpAddress: 'http://h:7243' }))).toBe('http://h:7243/');
    process.env.TEMPORAL_ADDRESS = 'local:7233';
    process.env.TEMPORAL_HTTP_ADDRESS = 'local:7243';
    expect(url(httpEndpointFrom({ address: 'local:7233' }))).toBe('http://local:7243/');
    // --address names another server: the environment's HTTP address is not its.
    expect(url(httpEndpointFrom({ address: 'other:7233' }))).toMatch(/^no HTTP address/);
  });

  it('is not used with a payload codec, nor over plain HTTP beside a secured gRPC connection', () => {
    process.env.TEMPORAL_HTTP_ADDRESS = 'http://local:7243';
    process.env.TEMPORAL_MLFLOW_CODEC_KEY = 'a'.repeat(44);
    expect(url(httpEndpointFrom({}))).toMatch(/payload codec/);
    delete process.env.TEMPORAL_MLFLOW_CODEC_KEY;
    expect(url(httpEndpointFrom({ apiKey: 'secret' }))).toMatch(/never sent over plain HTTP/);
    // The CA file is read as the gRPC connection reads it.
    const ca = join(mkdtempSync(join(tmpdir(), 'http-endpoint-')), 'ca.pem');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\n');
    expect(url(httpEndpointFrom({ tlsCa: ca }))).toMatch(/over HTTPS only/);
    // Without a scheme, an API key (or TLS settings) means HTTPS, where the key is sent.
    const https = httpEndpointFrom({ apiKey: 'secret', httpAddress: 'cloud.example:443' });
    expect(https).toMatchObject({ endpoint: { apiKey: 'secret', tls: {} } });
    expect(url(https)).toBe('https://cloud.example/');
  });

  it('names the setting that holds an address it cannot use', () => {
    process.env.TEMPORAL_HTTP_ADDRESS = 'ftp://local:7243';
    expect(() => httpEndpointFrom({})).toThrow(CliUsageError);
    expect(() => httpEndpointFrom({})).toThrow(
      /TEMPORAL_HTTP_ADDRESS must be .* got 'ftp:\/\/local:7243'/,
    );
    expect(() => httpEndpointFrom({ httpAddress: 'http://' })).toThrow(/--http-address must be/);
  });
});

describe('loadServicesEnv', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'services-env-')), 'services.env');
  writeFileSync(
    file,
    'TEMPORAL_ADDRESS=127.0.0.1:7233\nMLFLOW_TRACKING_URI=http://127.0.0.1:5000\nTEMPORAL_HTTP_ADDRESS=http://127.0.0.1:7243\n',
  );

  it('fills the local HTTP address with the local gRPC address', () => {
    expect(loadServicesEnv(file)).toBe(true);
    expect(process.env.TEMPORAL_HTTP_ADDRESS).toBe('http://127.0.0.1:7243');
  });

  it('leaves it out when the environment names another Temporal server', () => {
    process.env.TEMPORAL_ADDRESS = 'remote.example:7233';
    loadServicesEnv(file);
    expect(process.env.TEMPORAL_HTTP_ADDRESS).toBeUndefined();
    expect(process.env.MLFLOW_TRACKING_URI).toBe('http://127.0.0.1:5000');
  });
});
