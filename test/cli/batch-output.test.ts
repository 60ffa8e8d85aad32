/**
 * Issue 13, bad input: `batch-predict --output` naming a factory-pattern dataset whose path
 * leaves the project is refused before any workflow starts; an explicit absolute path is not.
 */
import { execFile } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../support/services.js';

const run = promisify(execFile);
const cli = join(repoRoot, 'bin', 'temporal-mlflow.js');

async function temporalMlflow(args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    const { stderr } = await run('node', [cli, ...args], { cwd: repoRoot, timeout: 60_000 });
    return { code: 0, stderr };
  } catch (error) {
    const failed = error as { code: number; stderr: string };
    return { code: failed.code, stderr: failed.stderr };
  }
}

let project: string;
let outside: string;
beforeAll(() => {
  mkdirSync(join(repoRoot, '.local', 'tmp'), { recursive: true });
  project = mkdtempSync(join(repoRoot, '.local', 'tmp', 'batch-output-'));
  cpSync(join(repoRoot, 'test', 'fixtures', 'temporal-project'), project, { recursive: true });
  appendFileSync(
    join(project, 'conf', 'base', 'catalog.yml'),
    '\n"{name}_preds":\n  type: json.JSONDataset\n  filepath: data/{name}.json\n' +
      '"{name}":\n  type: json.JSONDataset\n  filepath: "{name}.json"\n',
  );
  outside = mkdtempSync(join(tmpdir(), 'batch-output-outside-'));
});
afterAll(() => {
  rmSync(project, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

// Port 1 refuses connections: a command that gets past the checks fails on connecting instead.
const base = ['batch-predict', '-m', 'models:/m/1', '--input', 'diamond_result'];
const target = (): string[] => ['--project', project, '--address', '127.0.0.1:1'];

describe('batch-predict --output', () => {
  test('a pattern dataset whose path climbs out of the project is refused before starting', async () => {
    const result = await temporalMlflow([
      ...base,
      '--output',
      '../../../escaped_preds',
      ...target(),
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      "CliUsageError: --output '../../../escaped_preds' would be saved to",
    );
    expect(result.stderr).toContain('outside the project');
    expect(result.stderr).not.toMatch(/127\.0\.0\.1:1|ECONNREFUSED|connect/i);
  });

  test('an explicit absolute path passes the check (and only then meets the unreachable server)', async () => {
    const result = await temporalMlflow([
      ...base,
      '--output',
      join(outside, 'scores'),
      ...target(),
    ]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).not.toContain('CliUsageError');
    expect(result.stderr).not.toContain('outside the project');
  });
});
