/**
 * IncrementalDataset on Temporal: a node that fails after reading new partitions is retried and
 * sees the same partitions (even though a newer one arrived in between); once it succeeded, the
 * checkpoint moved exactly once and the next run sees none of them again.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTraining } from '../../src/temporal/client.js';
import { repoRoot } from '../support/services.js';
import { fastNodeDefaults, startHarness, type TemporalHarness } from '../support/temporal.js';

const projectDir = join(repoRoot, 'test', 'fixtures', 'incremental-project');
const eventsDir = join(projectDir, 'data', 'events');
const seenFile = join(projectDir, 'data', 'output', 'seen.json');

let harness: TemporalHarness;
beforeAll(async () => {
  rmSync(join(projectDir, 'data'), { recursive: true, force: true });
  harness = await startHarness({ projectDir });
}, 120_000);
afterAll(async () => {
  await harness?.close();
  delete process.env.INCREMENTAL_FAIL_ONCE_DIR;
});

const attempts = (dir: string): string[][] =>
  readFileSync(join(dir, 'consume'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as string[]);

async function run(options: { failOnce: boolean }) {
  const executions = mkdtempSync(join(tmpdir(), 'tm-incremental-'));
  process.env.TEST_EXECUTIONS_DIR = executions;
  if (options.failOnce) process.env.INCREMENTAL_FAIL_ONCE_DIR = eventsDir;
  else delete process.env.INCREMENTAL_FAIL_ONCE_DIR;
  const handle = await startTraining(harness.client, {
    pipeline: 'consume',
    taskQueue: harness.taskQueue,
    nodeDefaults: fastNodeDefaults,
  });
  await handle.result();
  return {
    attempts: attempts(executions),
    seen: JSON.parse(readFileSync(seenFile, 'utf8')) as { ids: string[]; total: number },
  };
}

it('a retried node sees the partitions its first attempt read; the next run sees only newer ones', async () => {
  mkdirSync(eventsDir, { recursive: true });
  writeFileSync(join(eventsDir, '2024-01-01.json'), JSON.stringify({ value: 1 }));
  writeFileSync(join(eventsDir, '2024-01-02.json'), JSON.stringify({ value: 2 }));

  const first = await run({ failOnce: true });
  expect(first.attempts).toEqual([
    ['2024-01-01', '2024-01-02'],
    ['2024-01-01', '2024-01-02'],
  ]);
  expect(first.seen).toEqual({ ids: ['2024-01-01', '2024-01-02'], total: 3 });
  expect(readFileSync(join(eventsDir, 'CHECKPOINT'), 'utf8')).toBe('2024-01-02');

  // The partition dropped during the failed attempt is new for the next run; the others are not.
  const second = await run({ failOnce: false });
  expect(second.attempts).toEqual([['late']]);
  expect(second.seen).toEqual({ ids: ['late'], total: 99 });

  const third = await run({ failOnce: false });
  expect(third.attempts).toEqual([[]]);
  expect(third.seen.ids).toEqual([]);
}, 120_000);
