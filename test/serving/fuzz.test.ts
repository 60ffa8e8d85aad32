/**
 * A bounded fuzz of the scoring server (the large one is bench/serving-hardening.ts): 500 random
 * requests of every format, sizes up to and over the limits, a share of them damaged. No request
 * may be answered 5xx; every answer is MLflow's JSON (predictions or an error code).
 */
import type { FastifyInstance } from 'fastify';
import { createScoringServer } from '../../src/serving/index.js';
import { createFixtureModel } from '../pyfunc/fixtures/fixture-model.js';
import { fuzzRequests } from './fuzz.js';
import { send } from './http.js';

const LIMITS = { bodyLimitBytes: 256 * 1024, maxRecords: 2_000, maxColumns: 50 };
const REQUESTS = 500;
const CONCURRENCY = 8;

describe('the scoring server under random requests', () => {
  let app: FastifyInstance;
  let base: string;
  beforeAll(async () => {
    app = createScoringServer(createFixtureModel(), LIMITS);
    base = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(() => app.close());

  it(`answers ${REQUESTS} random requests without a single 5xx`, async () => {
    const next = fuzzRequests(LIMITS, 13);
    const statuses = new Map<number, number>();
    const failures: string[] = [];
    let sent = 0;
    const client = async () => {
      while (sent < REQUESTS) {
        sent++;
        const req = next();
        const headers: Record<string, string> = req.contentType
          ? { 'content-type': req.contentType }
          : {};
        const res = await send(base, 'POST', '/invocations', headers, req.body);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        let body: Record<string, unknown> | undefined;
        try {
          body = res.json();
        } catch {
          // reported below
        }
        const wellFormed =
          res.status === 200
            ? body !== undefined && 'predictions' in body
            : typeof body?.error_code === 'string' && typeof body.message === 'string';
        if (res.status >= 500 || !wellFormed)
          failures.push(
            `${req.kind} (${req.body.length} bytes) → ${res.status} ${res.text.slice(0, 200)}`,
          );
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, client));
    expect(failures).toEqual([]);
    expect([...statuses.keys()].every((s) => s < 500)).toBe(true);
    // The mix exercises successes and each kind of refusal.
    expect(statuses.get(200)).toBeGreaterThan(REQUESTS / 3);
    expect(statuses.get(400)).toBeGreaterThan(10);
    expect((await send(base, 'GET', '/ping')).status).toBe(200);
  }, 120_000);
});
