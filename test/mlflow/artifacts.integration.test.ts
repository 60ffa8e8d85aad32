/** Artifacts through the real server's artifact proxy: streamed uploads and downloads. */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  MlflowError,
  MlflowResourceNotFoundError,
  artifactProxyPath,
  resolveArtifactUri,
} from '../../src/mlflow/index.js';
import { realClient, trackingUri, uniqueName } from './support.js';

const client = realClient();
const sha = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

describe('artifact URIs', () => {
  test.each([
    ['mlflow-artifacts:/1/abc/artifacts', '1/abc/artifacts'],
    ['mlflow-artifacts://localhost:5000/1/abc/artifacts/', '1/abc/artifacts'],
  ])('%s resolves to the proxy path %s', (uri, path) => {
    expect(artifactProxyPath(uri)).toBe(path);
  });

  test('resolveArtifactUri gives the proxy URL, segments encoded', () => {
    expect(resolveArtifactUri('mlflow-artifacts:/1/a b/artifacts', 'http://h:5000/')).toBe(
      'http://h:5000/api/2.0/mlflow-artifacts/artifacts/1/a%20b/artifacts',
    );
  });

  test('a non-proxied artifact root is refused with a hint', () => {
    expect(() => artifactProxyPath('s3://bucket/x')).toThrow(/--serve-artifacts/);
  });
});

describe('artifacts on the real server', () => {
  let work: string;
  let runId: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'mlflow-artifacts-'));
    const experiment = await client.experiments.getOrCreate(uniqueName('artifacts'));
    runId = (await client.runs.create({ experimentId: experiment.experiment_id })).info.run_id;
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  test('a directory and a 5 MB file round-trip byte-identical', async () => {
    const src = join(work, 'src');
    await mkdir(join(src, 'nested', 'deeper'), { recursive: true });
    await writeFile(join(src, 'a.txt'), 'alpha\n');
    await writeFile(join(src, 'nested', 'b c.json'), '{"b": 1}');
    await writeFile(join(src, 'nested', 'deeper', 'd.bin'), randomBytes(1000));
    const big = randomBytes(5 * 1024 * 1024);
    await writeFile(join(work, 'big.bin'), big);

    const uploaded = await client.artifacts.uploadDirectory(runId, src, 'folder', {
      concurrency: 2,
    });
    expect(uploaded).toEqual([
      'folder/a.txt',
      'folder/nested/b c.json',
      'folder/nested/deeper/d.bin',
    ]);
    expect(await client.artifacts.uploadFile(runId, join(work, 'big.bin'), 'data')).toBe(
      'data/big.bin',
    );

    expect(await client.artifacts.listArtifacts(runId)).toEqual([
      { path: 'data', isDir: true },
      { path: 'folder', isDir: true },
    ]);
    const all = await client.artifacts.listArtifacts(runId, undefined, { recursive: true });
    expect(all.filter((f) => !f.isDir).map((f) => [f.path, f.fileSize])).toEqual([
      ['data/big.bin', big.length],
      ['folder/a.txt', 6],
      ['folder/nested/b c.json', 8],
      ['folder/nested/deeper/d.bin', 1000],
    ]);

    const bigBack = join(work, 'out', 'big.bin');
    await client.artifacts.downloadFile(runId, 'data/big.bin', bigBack);
    expect(sha(await readFile(bigBack))).toBe(sha(big));
    expect((await readdir(join(work, 'out'))).filter((f) => f.endsWith('.part'))).toEqual([]);

    const dirBack = join(work, 'dir-out');
    const written = await client.artifacts.downloadDirectory(runId, 'folder', dirBack);
    expect(written).toHaveLength(3);
    for (const rel of ['a.txt', join('nested', 'b c.json'), join('nested', 'deeper', 'd.bin')]) {
      expect(sha(await readFile(join(dirBack, rel)))).toBe(sha(await readFile(join(src, rel))));
    }

    // The same through the artifact root URI instead of the run id.
    const { info } = await client.runs.get(runId);
    expect(await client.artifacts.listArtifacts(info.artifact_uri, 'folder/nested')).toEqual([
      { path: 'folder/nested/b c.json', isDir: false, fileSize: 8 },
      { path: 'folder/nested/deeper', isDir: true },
    ]);
    expect(resolveArtifactUri(info.artifact_uri, trackingUri())).toMatch(
      /\/api\/2\.0\/mlflow-artifacts\/artifacts\/\d+\/[0-9a-f]+\/artifacts$/,
    );
  });

  test('downloading a missing artifact fails with RESOURCE_DOES_NOT_EXIST and leaves no file', async () => {
    const dest = join(work, 'missing', 'x.txt');
    const error = await client.artifacts
      .downloadFile(runId, 'nope/x.txt', dest)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MlflowResourceNotFoundError);
    expect((error as Error).message).toContain("No such artifact: '");
    await expect(readdir(join(work, 'missing'))).resolves.toEqual([]);
  });

  test('listing an empty folder gives []', async () => {
    await expect(client.artifacts.listArtifacts(runId, 'empty')).resolves.toEqual([]);
  });

  test('artifact paths escaping the root are refused', async () => {
    await writeFile(join(work, 'small.txt'), 'x');
    for (const path of ['../x', 'a/../../x', '/abs']) {
      await expect(
        client.artifacts.uploadFile(runId, join(work, 'small.txt'), path),
      ).rejects.toThrow(MlflowError);
    }
  });
});
