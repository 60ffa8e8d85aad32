/** Packaging reuses the inference bundle while its inputs are unchanged, and rebuilds when one changes. */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  bundleInferenceCode,
  disposeWarmBundlers,
  warmBundlerCount,
} from '../../src/model/bundle.js';
import { copyExampleProject } from '../support/example-model.js';

describe('the inference bundle cache', () => {
  const previous = process.env.TEMPORAL_MLFLOW_BUNDLE_CACHE;
  const cacheDir = mkdtempSync(join(tmpdir(), 'tm-bundles-'));
  beforeAll(() => void (process.env.TEMPORAL_MLFLOW_BUNDLE_CACHE = cacheDir));
  afterAll(() => {
    if (previous === undefined) delete process.env.TEMPORAL_MLFLOW_BUNDLE_CACHE;
    else process.env.TEMPORAL_MLFLOW_BUNDLE_CACHE = previous;
  });

  it('serves an unchanged project from the cache and rebuilds once a source file changes', async () => {
    const project = copyExampleProject();
    const projectFile = join(project, 'temporal-mlflow.config.ts');
    const bundle = async () => {
      const codeDir = mkdtempSync(join(tmpdir(), 'tm-code-'));
      const result = await bundleInferenceCode({ projectFile, codeDir });
      return readFileSync(join(codeDir, result.fileName), 'utf8');
    };
    const built = await bundle();
    expect(built).toContain('routeTickets');

    // Mark the cached code: a second bundle that returns the mark came from the cache.
    const [entryName] = readdirSync(cacheDir);
    const entryPath = join(cacheDir, entryName!);
    const entry = JSON.parse(readFileSync(entryPath, 'utf8')) as { result: { code: string } };
    entry.result.code = Buffer.from('// from the cache\n').toString('base64');
    writeFileSync(entryPath, JSON.stringify(entry));
    expect(await bundle()).toBe('// from the cache\n');

    // An edited node file changes the inputs: the bundle is built again, with the edit.
    const nodes = join(project, 'src', 'nodes.ts');
    writeFileSync(
      nodes,
      `${readFileSync(nodes, 'utf8')}\nexport const edited = 'edited-marker';\n`,
    );
    const rebuilt = await bundle();
    expect(rebuilt).not.toBe('// from the cache\n');
    expect(rebuilt).toContain('routeTickets');
  }, 120_000);

  it('keeps one esbuild context per project when warm, rebuilding it with each change, until disposed', async () => {
    const project = copyExampleProject();
    const projectFile = join(project, 'temporal-mlflow.config.ts');
    const bundle = async () => {
      const codeDir = mkdtempSync(join(tmpdir(), 'tm-code-'));
      const result = await bundleInferenceCode({ projectFile, codeDir, cache: false, warm: true });
      return { result, code: readFileSync(join(codeDir, result.fileName), 'utf8') };
    };
    try {
      const first = await bundle();
      expect(first.code).toContain('routeTickets');
      expect(first.result.cached).toBe(false);
      expect(warmBundlerCount()).toBe(1);

      // An edit the inference code runs (a side effect of the project file is kept).
      const config = readFileSync(projectFile, 'utf8');
      writeFileSync(projectFile, `${config}\nconsole.log('warm-edit-marker');\n`);
      const second = await bundle();
      expect(second.code).toContain('warm-edit-marker');
      expect(second.result.sha256).not.toBe(first.result.sha256);
      expect(second.result.externals).toEqual(first.result.externals);
      expect(warmBundlerCount()).toBe(1);
    } finally {
      await disposeWarmBundlers();
    }
    expect(warmBundlerCount()).toBe(0);
  }, 120_000);

  it('builds without reading or writing the cache when told not to', async () => {
    const project = copyExampleProject();
    const dir = mkdtempSync(join(tmpdir(), 'tm-code-'));
    const before = readdirSync(cacheDir).length;
    await bundleInferenceCode({
      projectFile: join(project, 'temporal-mlflow.config.ts'),
      codeDir: dir,
      cache: false,
    });
    expect(readdirSync(cacheDir)).toHaveLength(before);
  }, 120_000);
});
