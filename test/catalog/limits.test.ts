/**
 * Issue 13, bad input: `${...}` references that multiply (like YAML alias bombs) are resolved
 * once each and capped, instead of running for minutes and taking gigabytes.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadProjectConfig } from '../../src/catalog/config-loader.js';
import { CatalogConfigError, InterpolationError } from '../../src/catalog/errors.js';

let projectDir: string;
beforeEach(async () => {
  projectDir = await mkdtemp(join(tmpdir(), 'interp-limits-'));
  await mkdir(join(projectDir, 'conf', 'base'), { recursive: true });
});
afterEach(async () => {
  await rm(projectDir, { recursive: true, force: true });
});

/** `k0: "x"`, `k1: "${k0}${k0}"`, ... : the last value is 2^levels characters long. */
function doubling(levels: number): string {
  const lines = ['k0: "x"'];
  for (let i = 1; i <= levels; i++) lines.push(`k${i}: "\${k${i - 1}}\${k${i - 1}}"`);
  return `${lines.join('\n')}\n`;
}

async function load(parameters: string, maxExpandedSize?: number): Promise<unknown> {
  await writeFile(join(projectDir, 'conf', 'base', 'parameters.yml'), parameters);
  return loadProjectConfig({
    projectDir,
    environment: {},
    ...(maxExpandedSize !== undefined ? { maxExpandedSize } : {}),
  });
}

describe('${...} expansion limits', () => {
  test.each([
    ['24 levels (16 M characters)', 24],
    ['30 levels (the 662-byte parameters.yml of issue 13)', 30],
  ])(
    'references doubling over %s are refused in well under a second, naming the file and key',
    async (_what, levels) => {
      const text = doubling(levels);
      const started = Date.now();
      const error = await load(text).catch((e: unknown) => e);
      const elapsed = Date.now() - started;
      expect(error).toBeInstanceOf(InterpolationError);
      expect(error).toBeInstanceOf(CatalogConfigError);
      expect((error as Error).message).toMatch(
        /makes the parameters config larger than 10000000 characters/,
      );
      expect((error as Error).message).toMatch(
        /→ at parameters\.k2\d in conf\/base\/parameters.yml/,
      );
      expect((error as InterpolationError).file).toBe('conf/base/parameters.yml');
      expect(elapsed).toBeLessThan(1000);
    },
  );

  test('a reference used many times resolves once and gives equal, independent values', async () => {
    const config = (await load(
      'base:\n  lr: 0.1\n  layers: [8, 4]\na: ${base}\nb: ${base}\nname: "m-${base.lr}-${base.lr}"\n',
    )) as { parameters: Record<string, unknown> };
    const { a, b, name } = config.parameters as {
      a: { layers: number[] };
      b: { layers: number[] };
      name: string;
    };
    expect(a).toEqual({ lr: 0.1, layers: [8, 4] });
    expect(b).toEqual(a);
    expect(b).not.toBe(a);
    expect(b.layers).not.toBe(a.layers);
    expect(name).toBe('m-0.1-0.1');
  });

  test('the cap is configurable and counts the expanded size, not the file size', async () => {
    const text = doubling(10); // 1024 characters at the end, ~2 K in total
    await expect(load(text)).resolves.toBeDefined();
    await expect(load(text, 1000)).rejects.toThrow(/larger than 1000 characters/);
  });
});
