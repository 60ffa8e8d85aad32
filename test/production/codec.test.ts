import { Client, Connection } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import proto from '@temporalio/proto';
import { NativeConnection, Worker } from '@temporalio/worker';
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { serveCodec, type CodecServerHandle } from '../../src/temporal/codec-server.js';
import {
  CodecDecryptError,
  CodecKeyError,
  createEncryptionCodec,
  encryptionDataConverter,
  generateCodecKey,
} from '../../src/temporal/codec.js';
import { repoRoot, services, temporalCli } from '../support/services.js';
import type { EchoParams, EchoResult } from './fixtures/echo-workflow.js';
import { quietTemporalLogs } from '../support/temporal.js';

const execFileAsync = promisify(execFile);
const History = proto.temporal.api.history.v1.History;

const key = (): Buffer => randomBytes(32);
const text = (value: Uint8Array | null | undefined): string =>
  Buffer.from(value ?? new Uint8Array()).toString('utf8');
const jsonPayload = (value: unknown): Payload => ({
  metadata: { encoding: Buffer.from('json/plain') },
  data: Buffer.from(JSON.stringify(value)),
});
const normalise = (payload: Payload) => ({
  metadata: Object.fromEntries(
    Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, text(v)]),
  ),
  data: Buffer.from(payload.data ?? new Uint8Array()).toString('base64'),
});
/** Flips one bit of the byte at `index` (negative = from the end). */
const flip = (payload: Payload, index: number): Payload => {
  const data = Buffer.from(payload.data as Uint8Array);
  const at = index < 0 ? data.length + index : index;
  data[at] = (data[at] as number) ^ 0x01;
  return { ...payload, data };
};

describe('the AES-256-GCM payload codec', () => {
  const samples: Payload[] = [
    jsonPayload({ secret: 'secret-marker-unit', values: [1, 2, 3] }),
    { metadata: { encoding: Buffer.from('binary/plain') }, data: randomBytes(1024) },
    { metadata: { encoding: Buffer.from('binary/null') }, data: new Uint8Array() },
    {
      metadata: { encoding: Buffer.from('json/plain'), 'custom-key': Buffer.from('kept') },
      data: Buffer.from('"ünïcödé"'),
    },
  ];

  it('round-trips several payloads, metadata included', async () => {
    const codec = createEncryptionCodec({ keys: { default: key() } });
    const encoded = await codec.encode(samples);
    expect(encoded).toHaveLength(samples.length);
    expect((await codec.decode(encoded)).map(normalise)).toEqual(samples.map(normalise));
  });

  it('marks encrypted payloads with the encoding and key id and leaves no plaintext in them', async () => {
    const codec = createEncryptionCodec({ keys: { 'k-2026': key() } });
    const [encrypted] = await codec.encode([samples[0] as Payload]);
    expect(normalise(encrypted as Payload).metadata).toEqual({
      encoding: 'binary/encrypted',
      'encryption-key-id': 'k-2026',
    });
    expect(Buffer.from(encrypted?.data as Uint8Array).includes('secret-marker-unit')).toBe(false);
  });

  it('uses a fresh random IV for every payload, so equal payloads never encrypt alike', async () => {
    const codec = createEncryptionCodec({ keys: { default: key() } });
    const encoded = await codec.encode(Array.from({ length: 200 }, () => samples[0] as Payload));
    const ivs = new Set(
      encoded.map((p) =>
        Buffer.from(p.data as Uint8Array)
          .subarray(0, 12)
          .toString('hex'),
      ),
    );
    const bodies = new Set(encoded.map((p) => Buffer.from(p.data as Uint8Array).toString('hex')));
    expect(ivs.size).toBe(200);
    expect(bodies.size).toBe(200);
  });

  it.each([
    ['the IV', 0],
    ['the ciphertext', 20],
    ['the authentication tag', -1],
  ])('rejects a payload when %s was altered, naming the key id', async (_part, index) => {
    const codec = createEncryptionCodec({ keys: { prod: key() } });
    const [encrypted] = await codec.encode([samples[0] as Payload]);
    const decoding = codec.decode([flip(encrypted as Payload, index)]);
    await expect(decoding).rejects.toThrow(CodecDecryptError);
    await expect(decoding).rejects.toThrow(/key 'prod': AES-GCM authentication failed/);
  });

  it('rejects a payload decrypted with another key stored under the same id', async () => {
    const writer = createEncryptionCodec({ keys: { default: key() } });
    const reader = createEncryptionCodec({ keys: { default: key() } });
    const encoded = await writer.encode([samples[0] as Payload]);
    await expect(reader.decode(encoded)).rejects.toMatchObject({
      name: 'CodecDecryptError',
      keyId: 'default',
      message: expect.stringContaining(
        'is not the one that encrypted it, or the payload was altered',
      ),
    });
  });

  it('rejects a payload encrypted under a key id it does not know, listing the ids it knows', async () => {
    const writer = createEncryptionCodec({ keys: { 'key-b': key() } });
    const reader = createEncryptionCodec({ keys: { 'key-a': key() } });
    const encoded = await writer.encode([samples[0] as Payload]);
    const decoding = reader.decode(encoded);
    await expect(decoding).rejects.toThrow(CodecKeyError);
    await expect(decoding).rejects.toThrow(
      "Payload was encrypted with key 'key-b', which this codec does not have (it knows 'key-a'). " +
        "Add it to TEMPORAL_MLFLOW_CODEC_PREVIOUS_KEYS as 'key-b:<base64 key>'.",
    );
  });

  it('passes payloads that are not encrypted through decode unchanged', async () => {
    const codec = createEncryptionCodec({ keys: { default: key() } });
    expect((await codec.decode(samples)).map(normalise)).toEqual(samples.map(normalise));
  });

  it('rotates keys: a new active key encrypts while retired keys from the environment still decrypt', async () => {
    const v1 = generateCodecKey();
    const before = createEncryptionCodec({
      env: { TEMPORAL_MLFLOW_CODEC_KEY: v1, TEMPORAL_MLFLOW_CODEC_KEY_ID: 'v1' },
    });
    const old = await before.encode([samples[0] as Payload]);

    const after = createEncryptionCodec({
      env: {
        TEMPORAL_MLFLOW_CODEC_KEY: generateCodecKey(),
        TEMPORAL_MLFLOW_CODEC_KEY_ID: 'v2',
        TEMPORAL_MLFLOW_CODEC_PREVIOUS_KEYS: `v1:${v1}`,
      },
    });
    expect(after.activeKeyId).toBe('v2');
    expect(after.keyIds).toEqual(['v1', 'v2']);
    expect((await after.decode(old)).map(normalise)).toEqual([normalise(samples[0] as Payload)]);
    const fresh = await after.encode([samples[0] as Payload]);
    expect(text(fresh[0]?.metadata?.['encryption-key-id'])).toBe('v2');
    await expect(before.decode(fresh)).rejects.toThrow(/encrypted with key 'v2'/);
  });

  it('reads the key from TEMPORAL_MLFLOW_CODEC_KEY under the id "default" when no id is set', async () => {
    const codec = createEncryptionCodec({ env: { TEMPORAL_MLFLOW_CODEC_KEY: generateCodecKey() } });
    expect(codec.activeKeyId).toBe('default');
    const [encrypted] = await codec.encode([samples[0] as Payload]);
    expect(text(encrypted?.metadata?.['encryption-key-id'])).toBe('default');
  });

  it.each<[string, NodeJS.ProcessEnv, RegExp]>([
    [
      'no key',
      {},
      /^Payload encryption needs a key: set TEMPORAL_MLFLOW_CODEC_KEY to the base64 of 32 random bytes\. Generate one with `temporal-mlflow codec-key`/,
    ],
    ['an empty key', { TEMPORAL_MLFLOW_CODEC_KEY: '  ' }, /set TEMPORAL_MLFLOW_CODEC_KEY/],
    [
      'a 16-byte key',
      { TEMPORAL_MLFLOW_CODEC_KEY: randomBytes(16).toString('base64') },
      /^TEMPORAL_MLFLOW_CODEC_KEY \(key 'default'\) must be 32 bytes for AES-256, got 16\. Generate one with `temporal-mlflow codec-key`/,
    ],
    [
      'a key that is not base64',
      { TEMPORAL_MLFLOW_CODEC_KEY: 'not a key!' },
      /^TEMPORAL_MLFLOW_CODEC_KEY \(key 'default'\) is not base64/,
    ],
    [
      'a retired key without an id',
      {
        TEMPORAL_MLFLOW_CODEC_KEY: generateCodecKey(),
        TEMPORAL_MLFLOW_CODEC_PREVIOUS_KEYS: generateCodecKey(),
      },
      /^TEMPORAL_MLFLOW_CODEC_PREVIOUS_KEYS must be a comma-separated list of 'id:base64key'/,
    ],
    [
      'a retired key reusing the active id',
      {
        TEMPORAL_MLFLOW_CODEC_KEY: generateCodecKey(),
        TEMPORAL_MLFLOW_CODEC_PREVIOUS_KEYS: `default:${generateCodecKey()}`,
      },
      /repeats the active key id 'default'/,
    ],
    [
      'a key id with a comma',
      { TEMPORAL_MLFLOW_CODEC_KEY: generateCodecKey(), TEMPORAL_MLFLOW_CODEC_KEY_ID: 'a,b' },
      /must be non-empty, without spaces/,
    ],
  ])('refuses to start with %s, naming the variable to fix', (_case, env, message) => {
    let thrown: unknown;
    try {
      createEncryptionCodec({ env });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(CodecKeyError);
    expect((thrown as CodecKeyError).message).toMatch(message);
    expect((thrown as CodecKeyError).envVar).toMatch(/^TEMPORAL_MLFLOW_CODEC_/);
  });

  it('rejects explicit keys whose active id is not among them, or of the wrong size', () => {
    expect(() => createEncryptionCodec({ keys: { a: key(), b: key() }, activeKeyId: 'c' })).toThrow(
      "activeKeyId 'c' is not one of the keys given (a, b).",
    );
    expect(() => createEncryptionCodec({ keys: { a: randomBytes(31) } })).toThrow(
      "Codec key 'a' must be 32 bytes for AES-256, got 31.",
    );
  });

  it('generates distinct base64 keys of 32 bytes and builds a data converter around the codec', () => {
    const keys = [generateCodecKey(), generateCodecKey()];
    expect(keys.map((k) => Buffer.from(k, 'base64').length)).toEqual([32, 32]);
    expect(keys[0]).not.toBe(keys[1]);
    const converter = encryptionDataConverter({ keys: { default: key() } });
    expect(converter.payloadCodecs).toHaveLength(1);
    expect(
      encryptionDataConverter({ env: { TEMPORAL_MLFLOW_CODEC_KEY: keys[0] } }).payloadCodecs,
    ).toHaveLength(1);
  });
});

describe('the codec server', () => {
  const uiOrigin = 'http://localhost:8080';
  const codec = createEncryptionCodec({ keys: { default: key() } });
  let server: CodecServerHandle;
  beforeAll(async () => {
    server = await serveCodec({ codec, corsOrigins: [uiOrigin], port: 0 });
  });
  afterAll(() => server.close());

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Namespace': 'default', ...headers },
      body: JSON.stringify(body),
    });
  const asJson = {
    metadata: { encoding: Buffer.from('json/plain').toString('base64') },
    data: Buffer.from('{"a":"secret"}').toString('base64'),
  };

  it('encodes and decodes payloads in the protobuf JSON shape of the remote codec protocol', async () => {
    const encoded = await post('/encode', { payloads: [asJson] });
    expect(encoded.status).toBe(200);
    expect(encoded.headers.get('content-type')).toMatch(/^application\/json/);
    const encodedBody = (await encoded.json()) as {
      payloads: { metadata: Record<string, string>; data: string }[];
    };
    expect(encodedBody.payloads).toHaveLength(1);
    expect(Buffer.from(encodedBody.payloads[0]?.metadata.encoding ?? '', 'base64').toString()).toBe(
      'binary/encrypted',
    );
    expect(Buffer.from(encodedBody.payloads[0]?.data ?? '', 'base64').includes('secret')).toBe(
      false,
    );

    const decoded = await post('/decode', encodedBody);
    expect(decoded.status).toBe(200);
    expect(await decoded.json()).toEqual({ payloads: [asJson] });
  });

  it('decodes under a namespace path, as the CLI calls it with --codec-endpoint .../{namespace}', async () => {
    const [encrypted] = await codec.encode([jsonPayload({ a: 1 })]);
    const response = await post('/default/decode', {
      payloads: [
        {
          metadata: { encoding: 'YmluYXJ5L2VuY3J5cHRlZA==', 'encryption-key-id': 'ZGVmYXVsdA==' },
          data: Buffer.from(encrypted?.data as Uint8Array).toString('base64'),
        },
      ],
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { payloads: { data: string }[] };
    expect(Buffer.from(body.payloads[0]?.data ?? '', 'base64').toString()).toBe('{"a":1}');
  });

  it('answers the UI preflight for its origin with the methods and headers the UI sends', async () => {
    const response = await fetch(`${server.url}/decode`, {
      method: 'OPTIONS',
      headers: {
        Origin: uiOrigin,
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type,x-namespace',
      },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe(uiOrigin);
    expect(response.headers.get('access-control-allow-methods')).toContain('POST');
    expect(response.headers.get('access-control-allow-headers')?.toLowerCase().split(', ')).toEqual(
      expect.arrayContaining(['content-type', 'x-namespace', 'authorization']),
    );
    expect(response.headers.get('access-control-allow-credentials')).toBe('true');
  });

  it('sends CORS headers on real requests from the UI origin and none to other origins', async () => {
    const fromUi = await post('/decode', { payloads: [] }, { Origin: uiOrigin });
    expect(fromUi.status).toBe(200);
    expect(fromUi.headers.get('access-control-allow-origin')).toBe(uiOrigin);

    const preflight = await fetch(`${server.url}/decode`, {
      method: 'OPTIONS',
      headers: { Origin: 'http://evil.example' },
    });
    expect(preflight.status).toBe(403);
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
  });

  it.each<[string, string, unknown, number, RegExp]>([
    [
      'a body without payloads',
      '/decode',
      { items: [] },
      400,
      /Expected \{"payloads".*\n✖ .* → at payloads/s,
    ],
    [
      'payloads of the wrong type',
      '/encode',
      { payloads: [{ data: 42 }] },
      400,
      /→ at payloads\.0\.data/,
    ],
    [
      'a tampered payload',
      '/decode',
      {
        payloads: [
          {
            metadata: { encoding: 'YmluYXJ5L2VuY3J5cHRlZA==', 'encryption-key-id': 'ZGVmYXVsdA==' },
            data: randomBytes(64).toString('base64'),
          },
        ],
      },
      400,
      /key 'default': AES-GCM authentication failed/,
    ],
    [
      'an unknown path',
      '/transcode',
      { payloads: [] },
      404,
      /use \.\.\.\/encode or \.\.\.\/decode/,
    ],
  ])('answers %s with a clear error', async (_case, path, body, status, message) => {
    const response = await post(path, body);
    expect(response.status).toBe(status);
    expect(((await response.json()) as { error: string }).error).toMatch(message);
  });

  it('asks the authorize hook with the namespace and headers, and answers 403 when it refuses', async () => {
    const asked: Array<string | undefined> = [];
    const guarded = await serveCodec({
      codec,
      port: 0,
      authorize: ({ namespace, headers }) => {
        asked.push(namespace);
        return headers.authorization === 'Bearer good';
      },
    });
    try {
      const call = (authorization: string) =>
        fetch(`${guarded.url}/ml-prod/decode`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Authorization: authorization },
          body: JSON.stringify({ payloads: [] }),
        });
      expect((await call('Bearer good')).status).toBe(200);
      expect((await call('Bearer bad')).status).toBe(403);
      expect(asked).toEqual(['ml-prod', 'ml-prod']);
      expect(await (await fetch(`${guarded.url}/health`)).json()).toEqual({ status: 'ok' });
    } finally {
      await guarded.close();
    }
  });
});

describe('the codec server with a token (issue 13)', () => {
  const codec = createEncryptionCodec({ keys: { default: key() } });
  const token = randomBytes(24).toString('base64url');
  let server: CodecServerHandle;
  beforeAll(async () => {
    server = await serveCodec({ codec, port: 0, token, corsOrigins: ['http://localhost:8080'] });
  });
  afterAll(() => server.close());

  const decode = (headers: Record<string, string> = {}) =>
    fetch(`${server.url}/default/decode`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...headers },
      body: JSON.stringify({ payloads: [] }),
    });

  it.each<[string, Record<string, string>]>([
    ['no token', {}],
    ['a wrong token', { Authorization: 'Bearer not-the-token' }],
    ['the token without the Bearer scheme', { Authorization: token }],
    ['a forged session cookie', { Cookie: 'temporal_mlflow_codec_session=forged' }],
  ])('answers 401 to a request with %s, without echoing the token', async (_case, headers) => {
    const response = await decode(headers);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer realm=/);
    const body = await response.text();
    expect(body).toContain('Missing or wrong token');
    expect(body).not.toContain(token);
  });

  it('decodes for a request carrying the token, as the Temporal CLI sends it with --codec-auth', async () => {
    const [encrypted] = await codec.encode([jsonPayload({ a: 1 })]);
    const response = await fetch(`${server.url}/default/decode`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: JSON.stringify({
        payloads: [
          {
            metadata: { encoding: 'YmluYXJ5L2VuY3J5cHRlZA==', 'encryption-key-id': 'ZGVmYXVsdA==' },
            data: Buffer.from(encrypted?.data as Uint8Array).toString('base64'),
          },
        ],
      }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { payloads: { data: string }[] };
    expect(Buffer.from(body.payloads[0]?.data ?? '', 'base64').toString()).toBe('{"a":1}');
  });

  it('signs a browser in at /login with a session cookie that is not the token', async () => {
    const wrong = await fetch(`${server.url}/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: 'nope' }).toString(),
      redirect: 'manual',
    });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();

    const right = await fetch(`${server.url}/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }).toString(),
    });
    expect(right.status).toBe(200);
    const cookie = right.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(
      /^temporal_mlflow_codec_session=[\w-]+; HttpOnly; SameSite=Strict; Path=\//,
    );
    expect(cookie).not.toContain(token);
    const session = cookie.split(';')[0] as string;
    expect((await decode({ Cookie: session })).status).toBe(200);
  });

  it('listens on loopback by default, from the library and from the CLI', async () => {
    const plain = await serveCodec({ codec, port: 0 });
    try {
      expect((plain.app.server.address() as { address: string }).address).toBe('127.0.0.1');
    } finally {
      await plain.close();
    }

    const child = spawn(
      'node',
      [join(repoRoot, 'bin', 'temporal-mlflow.js'), 'codec-server', '--port', '0'],
      {
        cwd: repoRoot,
        env: {
          ...process.env,
          TEMPORAL_MLFLOW_CODEC_KEY: generateCodecKey(),
          TEMPORAL_MLFLOW_CODEC_TOKEN: token,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      const deadline = Date.now() + 30_000;
      while (!/codec server at /.test(output) && child.exitCode === null) {
        if (Date.now() > deadline) throw new Error(`codec-server did not start: ${output}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(output).toMatch(
        /^codec server at http:\/\/127\.0\.0\.1:\d+, token required \(from TEMPORAL_MLFLOW_CODEC_TOKEN/m,
      );
      expect(output).not.toContain(token);
      const url = /codec server at (http:\/\/[\d.:]+)/.exec(output)?.[1] as string;
      const unauthenticated = await fetch(`${url}/decode`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ payloads: [] }),
      });
      expect(unauthenticated.status).toBe(401);
    } finally {
      if (child.exitCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        await exited;
      }
    }
  });

  it('refuses to listen beyond loopback without a token or an authorize hook', async () => {
    await expect(serveCodec({ codec, port: 0, host: '0.0.0.0' })).rejects.toMatchObject({
      name: 'CodecServerConfigError',
      message: expect.stringContaining(
        'Refusing to serve the codec on 0.0.0.0 without authentication',
      ),
    });
    const gated = await serveCodec({ codec, port: 0, host: '0.0.0.0', token });
    await gated.close();
  });
});

describe('payload encryption against the real Temporal server', () => {
  const workflowsPath = fileURLToPath(new URL('./fixtures/echo-workflow.ts', import.meta.url));

  it('keeps the params out of the server history while the codec client reads the result', async () => {
    const { TEMPORAL_ADDRESS } = services();
    const marker = `secret-marker-${randomUUID()}`;
    const params: EchoParams = { marker, nested: { values: [3, 1, 4], note: `note ${marker}` } };
    const codec = createEncryptionCodec({ keys: { 'it-key': key() } });
    const dataConverter = encryptionDataConverter(codec);
    const taskQueue = `codec-${randomUUID()}`;
    const workflowId = `codec-echo-${randomUUID()}`;
    const seen: EchoParams[] = [];

    quietTemporalLogs();
    const nativeConnection = await NativeConnection.connect({ address: TEMPORAL_ADDRESS });
    const connection = await Connection.connect({ address: TEMPORAL_ADDRESS });
    let codecServer: CodecServerHandle | undefined;
    try {
      const worker = await Worker.create({
        connection: nativeConnection,
        taskQueue,
        workflowsPath,
        dataConverter,
        activities: {
          async echoParams(received: EchoParams): Promise<EchoResult> {
            seen.push(received);
            return {
              echoed: received,
              summary: `${received.marker} has ${received.nested.values.length} values`,
            };
          },
        },
      });
      const client = new Client({ connection, dataConverter });
      const result = await worker.runUntil(
        client.workflow.execute('echoWorkflow', { taskQueue, workflowId, args: [params] }),
      );

      // With the codec: the activity saw the params in clear and the client decodes the result.
      expect(seen).toEqual([params]);
      expect(result).toEqual({ echoed: params, summary: `${marker} has 3 values` });

      // Without the codec: the raw history holds ciphertext only.
      const plainClient = new Client({ connection });
      const history = await plainClient.workflow.getHandle(workflowId).fetchHistory();
      const raw = Buffer.from(History.encode(history).finish());
      expect(raw.includes(marker)).toBe(false);
      expect(raw.includes('secret-marker')).toBe(false);
      expect(
        JSON.stringify(History.toObject(History.fromObject(history), { bytes: String })),
      ).not.toContain('secret-marker');

      const payloads = collectPayloads(history);
      expect(payloads.length).toBeGreaterThanOrEqual(4); // workflow input, activity input, activity result, workflow result
      expect(new Set(payloads.map((p) => text(p.metadata?.encoding)))).toEqual(
        new Set(['binary/encrypted']),
      );
      // Positive control: the same history bytes do hold the marker once decrypted.
      const decrypted = await codec.decode(payloads);
      expect(decrypted.filter((p) => text(p.data).includes(marker)).length).toBeGreaterThanOrEqual(
        4,
      );

      // Through the Temporal CLI: no marker without a codec endpoint ...
      const env = { ...process.env };
      delete env.TEMPORAL_CODEC_ENDPOINT;
      const show = async (...extra: string[]) =>
        (
          await execFileAsync(
            temporalCli,
            [
              'workflow',
              'show',
              '--workflow-id',
              workflowId,
              '--address',
              TEMPORAL_ADDRESS,
              '--output',
              'json',
              ...extra,
            ],
            { env, maxBuffer: 16 * 1024 * 1024 },
          )
        ).stdout;
      // (`--output json` prints payload bytes as base64: search the decoded bytes as well as the text.)
      const shown = await show();
      const shownPayloads = collectPayloads(JSON.parse(shown));
      expect(shownPayloads.length).toBe(payloads.length);
      expect(shown).not.toContain('secret-marker');
      expect(shownPayloads.map((p) => base64Text(p.data)).join('\n')).not.toContain(
        'secret-marker',
      );

      // ... and the params in clear through our codec server (the same path the Web UI takes).
      // With a token: the Temporal CLI passes it with --codec-auth.
      const token = randomBytes(24).toString('base64url');
      codecServer = await serveCodec({ codec, port: 0, token });
      await expect(show('--codec-endpoint', `${codecServer.url}/{namespace}`)).rejects.toThrow();
      const decoded = collectPayloads(
        JSON.parse(
          await show(
            '--codec-endpoint',
            `${codecServer.url}/{namespace}`,
            '--codec-auth',
            `Bearer ${token}`,
          ),
        ),
      );
      expect(
        decoded.filter((p) => base64Text(p.data).includes(marker)).length,
      ).toBeGreaterThanOrEqual(4);
    } finally {
      await codecServer?.close();
      await connection.close();
      await nativeConnection.close();
    }
  }, 180_000);
});

/** The text of a base64 `data` field of the CLI's JSON output. */
function base64Text(data: unknown): string {
  return typeof data === 'string' ? Buffer.from(data, 'base64').toString('utf8') : '';
}

/** Every payload inside `payloads` lists of a history (inputs, results), whatever the event type. */
function collectPayloads(value: unknown, found: Payload[] = []): Payload[] {
  if (Array.isArray(value)) {
    for (const item of value) collectPayloads(item, found);
  } else if (value && typeof value === 'object' && !ArrayBuffer.isView(value)) {
    for (const [field, child] of Object.entries(value)) {
      if (field === 'payloads' && Array.isArray(child)) found.push(...(child as Payload[]));
      else collectPayloads(child, found);
    }
  }
  return found;
}
