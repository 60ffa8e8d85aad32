import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startTraining } from '../../src/temporal/client.js';
import { repoRoot } from '../support/services.js';
import { startHarness, type TemporalHarness } from '../support/temporal.js';

const threadProject = join(repoRoot, 'test', 'runner', 'fixtures', 'thread-project');
const busyResultFile = join(threadProject, 'data', 'output', 'busy_result.json');

let harness: TemporalHarness;
beforeAll(async () => {
  harness = await startHarness({ projectDir: threadProject });
}, 120_000);
afterAll(async () => harness?.close());

describe('a CPU-bound node on Temporal', () => {
  it('completes a synchronous busy loop longer than its heartbeat timeout, in a worker thread', async () => {
    rmSync(busyResultFile, { force: true });
    const handle = await startTraining(harness.client, {
      pipeline: 'busy',
      taskQueue: harness.taskQueue,
      params: { busy_ms: 5_000 },
      // On the activity's event loop, a 5 s loop starves heartbeats: one attempt, and it fails
      // with "Heartbeat timeout" after 2 s.
      nodeDefaults: {
        heartbeatTimeoutMs: 2_000,
        startToCloseTimeoutMs: 120_000,
        retry: { maximumAttempts: 1 },
      },
    });
    const result = await handle.result();
    expect(result.nodes).toBe(1);
    const busy = JSON.parse(readFileSync(busyResultFile, 'utf8')) as {
      start: number;
      end: number;
      isMainThread: boolean;
    };
    expect(busy.isMainThread).toBe(false);
    expect(busy.end - busy.start).toBeGreaterThanOrEqual(5_000);
  }, 120_000);
});
