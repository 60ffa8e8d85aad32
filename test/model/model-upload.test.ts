/**
 * Uploading a model folder while it is written: each file once, at most `concurrency` at a time,
 * with the SHA-256 of the bytes sent; a manifest that does not match the upload is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MlflowClient } from '../../src/mlflow/client.js';
import { ModelUploadMismatchError } from '../../src/model/errors.js';
import { INTEGRITY_FORMAT, type IntegrityManifest } from '../../src/model/integrity.js';
import { checkUploadedManifest, ModelUpload } from '../../src/model/model-upload.js';

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

let server: Server;
let url: string;
/** Bodies received, by request path. */
const received = new Map<string, string[]>();
let inFlight = 0;
let maxInFlight = 0;
/** Answers held until released, so that concurrent uploads overlap on the server. */
let held: (() => void)[] = [];
let holding = true;

beforeAll(async () => {
  server = createServer((req, res) => {
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = decodeURIComponent(req.url!.split('?')[0]!);
      received.set(path, [...(received.get(path) ?? []), Buffer.concat(chunks).toString()]);
      const answer = (): void => {
        inFlight -= 1;
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end('{}');
      };
      if (holding) held.push(answer);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** Waits until `count` answers are held (deadline 10 s), then releases them all. */
async function release(count: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (held.length < count) {
    if (Date.now() > deadline) throw new Error(`${held.length} of ${count} uploads arrived`);
    await new Promise((resolve) => setImmediate(resolve));
  }
  const answers = held;
  held = [];
  answers.forEach((answer) => answer());
}

describe('uploading a model folder while it is written', () => {
  it('sends each file once, at most `concurrency` at a time, and returns the SHA-256 of what it sent', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tm-upload-'));
    try {
      await mkdir(join(dir, 'code'));
      const files: Record<string, string> = {
        'code/bundle.mjs': 'export const x = 1;',
        'code/stdio.mjs': 'stdio',
        'artifacts.json': '{"a":1}',
        MLmodel: 'artifact_path: model',
      };
      for (const [file, text] of Object.entries(files)) await writeFile(join(dir, file), text);
      const upload = new ModelUpload({
        client: new MlflowClient({ trackingUri: url }),
        artifactUri: 'mlflow-artifacts:/1/models/m-1/artifacts',
        modelDir: dir,
        concurrency: 2,
      });
      holding = true;
      // The code is final first; reported twice, it is still sent once.
      upload.add(['code/bundle.mjs', 'code/stdio.mjs']);
      upload.add(['code/bundle.mjs']);
      await release(2);
      holding = false;
      const hashes = await upload.complete();

      expect(hashes).toEqual(
        Object.fromEntries(Object.entries(files).map(([file, text]) => [file, sha256(text)])),
      );
      const prefix = '/api/2.0/mlflow-artifacts/artifacts/1/models/m-1/artifacts/';
      expect(Object.fromEntries(received)).toEqual(
        Object.fromEntries(Object.entries(files).map(([file, text]) => [prefix + file, [text]])),
      );
      expect(maxInFlight).toBeLessThanOrEqual(2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a manifest whose file was uploaded with other bytes, or not uploaded, naming the file', () => {
    const manifest: IntegrityManifest = {
      format: INTEGRITY_FORMAT,
      algorithm: 'sha256',
      mlmodel: sha256('mlmodel'),
      files: { 'code/bundle.mjs': sha256('bundle'), 'artifacts/a.json': sha256('a') },
    };
    expect(() =>
      checkUploadedManifest('/m', manifest, {
        'code/bundle.mjs': sha256('bundle'),
        'artifacts/a.json': sha256('a'),
        MLmodel: sha256('anything'),
      }),
    ).not.toThrow();
    const changed = (): void =>
      checkUploadedManifest('/m', manifest, {
        'code/bundle.mjs': sha256('tampered'),
        'artifacts/a.json': sha256('a'),
      });
    expect(changed).toThrow(ModelUploadMismatchError);
    expect(changed).toThrow(/code\/bundle\.mjs was not uploaded as integrity\.json records it/);
    expect(() =>
      checkUploadedManifest('/m', manifest, { 'code/bundle.mjs': sha256('bundle') }),
    ).toThrow(/artifacts\/a\.json was not uploaded[\s\S]*no upload of the file/);
  });
});
