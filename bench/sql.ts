/**
 * SQL benchmark: a table of N rows × 5 columns (2 integers, 2 floats, 1 string) saved then loaded
 * through sql.SQLTableDataset on SQLite and on PostgreSQL, against parquet.ParquetDataset on the
 * same rows; then the saved table streamed back (`stream()`, 10,000-row batches) in a fresh
 * process, at 100,000 and at N rows, to show streaming memory flat in table size. Each case runs
 * in its own child process so its peak RSS (process.resourceUsage().maxRSS) is its own.
 *
 *   node --import tsx bench/sql.ts [--rows 1000000] [--small 100000]
 *
 * PostgreSQL: TEMPORAL_MLFLOW_POSTGRES_URL, else .local/postgres/url (scripts/postgres start);
 * skipped when neither is set. Targets (issue 17): SQL round trip ≤ 2× the Parquet round trip,
 * peak RSS ≤ 1 GB, streaming memory flat in table size. Writes bench/results/sql.json.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { ParquetDataset } from '../src/datasets/parquet-dataset.js';
import { SQLTableDataset } from '../src/datasets/sql/sql-table-dataset.js';
import type { Row } from '../src/datasets/table.js';
import { writeResults } from './support.js';

type Engine = 'parquet' | 'sqlite' | 'postgresql';

interface CaseResult {
  case: string;
  rows: number;
  saveSeconds?: number;
  loadSeconds?: number;
  roundTripSeconds?: number;
  streamSeconds?: number;
  /** User + system CPU time of the child: less sensitive than wall time to a busy machine. */
  cpuSeconds: number;
  peakRssMB: number;
}

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

function postgresUrl(): string | undefined {
  if (process.env.TEMPORAL_MLFLOW_POSTGRES_URL) return process.env.TEMPORAL_MLFLOW_POSTGRES_URL;
  const file = fileURLToPath(new URL('../.local/postgres/url', import.meta.url));
  return existsSync(file) ? readFileSync(file, 'utf8').trim() || undefined : undefined;
}

function makeRows(count: number): Row[] {
  const cities = ['Amsterdam', 'Berlin', 'Copenhagen', 'Dublin', 'Edinburgh', 'Florence'];
  let seed = 42;
  const random = (): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed / 2_147_483_648;
  };
  const rows = new Array<Row>(count);
  for (let i = 0; i < count; i++) {
    rows[i] = {
      id: i,
      quantity: Math.floor(random() * 1000),
      price: Math.round(random() * 100_000) / 100,
      score: random(),
      city: cities[i % cities.length],
    };
  }
  return rows;
}

const round = (value: number): number => Math.round(value * 100) / 100;
const peakRssMB = (): number => Math.round(process.resourceUsage().maxRSS / 1024);
const cpuSeconds = (): number => {
  const { user, system } = process.cpuUsage();
  return round((user + system) / 1e6);
};

function tableDataset(engine: Exclude<Engine, 'parquet'>, location: string, table: string) {
  return new SQLTableDataset({
    connection: engine === 'sqlite' ? `sqlite:///${join(location, 'bench.sqlite')}` : location,
    tableName: table,
    ifExists: 'replace',
    batchSize: 10_000,
  });
}

/** Child: save + load (round trip). */
async function roundTrip(
  engine: Engine,
  location: string,
  table: string,
  count: number,
): Promise<CaseResult> {
  const dataset =
    engine === 'parquet'
      ? new ParquetDataset({ filepath: join(location, 'bench.parquet') })
      : tableDataset(engine, location, table);
  const data = makeRows(count);
  const cpu0 = cpuSeconds();
  const t0 = performance.now();
  await dataset.save(data);
  const t1 = performance.now();
  const loaded = (await dataset.load()) as Row[];
  const t2 = performance.now();
  if (loaded.length !== count)
    throw new Error(`${engine}: loaded ${loaded.length} rows, expected ${count}`);
  return {
    case: `${engine} round trip`,
    rows: count,
    saveSeconds: round((t1 - t0) / 1000),
    loadSeconds: round((t2 - t1) / 1000),
    roundTripSeconds: round((t2 - t0) / 1000),
    cpuSeconds: round(cpuSeconds() - cpu0),
    peakRssMB: peakRssMB(),
  };
}

/** Child: stream a saved table (nothing else in this process). */
async function stream(
  engine: Exclude<Engine, 'parquet'>,
  location: string,
  table: string,
  count: number,
): Promise<CaseResult> {
  const dataset = tableDataset(engine, location, table);
  const t0 = performance.now();
  let n = 0;
  let checksum = 0;
  for await (const batch of dataset.stream()) {
    for (const row of batch as Row[]) checksum += row.quantity as number;
    n += (batch as Row[]).length;
  }
  if (n !== count || checksum <= 0)
    throw new Error(`${engine}: streamed ${n} rows, expected ${count}`);
  return {
    case: `${engine} stream`,
    rows: count,
    streamSeconds: round((performance.now() - t0) / 1000),
    cpuSeconds: cpuSeconds(),
    peakRssMB: peakRssMB(),
  };
}

async function main(): Promise<void> {
  const child = argument('child');
  if (child) {
    const [kind, engine, location, table, rows] = child.split('|') as [
      string,
      Engine,
      string,
      string,
      string,
    ];
    const result =
      kind === 'stream'
        ? await stream(engine as Exclude<Engine, 'parquet'>, location, table, Number(rows))
        : await roundTrip(engine, location, table, Number(rows));
    process.stdout.write(JSON.stringify(result));
    return;
  }
  const count = Number(argument('rows') ?? 1_000_000);
  const small = Number(argument('small') ?? 100_000);
  const url = postgresUrl();
  const dir = mkdtempSync(join(tmpdir(), 'bench-sql-'));
  const self = fileURLToPath(import.meta.url);
  const run = (spec: string): CaseResult => {
    const output = execFileSync(process.execPath, ['--import', 'tsx', self, '--child', spec], {
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    });
    const result = JSON.parse(output) as CaseResult;
    const timing =
      result.roundTripSeconds !== undefined
        ? `save ${result.saveSeconds?.toFixed(2)} s  load ${result.loadSeconds?.toFixed(2)} s  round trip ${result.roundTripSeconds.toFixed(2)} s`
        : `stream ${result.streamSeconds?.toFixed(2)} s`;
    console.log(
      `${result.case.padEnd(22)} ${String(result.rows).padStart(8)} rows  ${timing}  CPU ${result.cpuSeconds.toFixed(2)} s  peak RSS ${result.peakRssMB} MB`,
    );
    return result;
  };
  const engines: Exclude<Engine, 'parquet'>[] = url ? ['sqlite', 'postgresql'] : ['sqlite'];
  if (!url)
    console.log('PostgreSQL skipped: no TEMPORAL_MLFLOW_POSTGRES_URL and no .local/postgres/url');
  const results: CaseResult[] = [];
  const table = `bench_sql_${process.pid}`;
  try {
    results.push(run(`roundtrip|parquet|${dir}|-|${count}`));
    for (const engine of engines) {
      const location = engine === 'sqlite' ? dir : url!;
      for (const rows of [small, count]) {
        const name = `${table}_${rows}`;
        results.push(run(`roundtrip|${engine}|${location}|${name}|${rows}`));
        results.push(run(`stream|${engine}|${location}|${name}|${rows}`));
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    if (url) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      for (const rows of [small, count])
        await client.query(`DROP TABLE IF EXISTS "${table}_${rows}"`);
      await client.end();
    }
  }
  const parquet = results[0]!.roundTripSeconds!;
  const summary = Object.fromEntries(
    engines.map((engine) => {
      const full = results.find((r) => r.case === `${engine} round trip` && r.rows === count)!;
      const streamSmall = results.find((r) => r.case === `${engine} stream` && r.rows === small)!;
      const streamFull = results.find((r) => r.case === `${engine} stream` && r.rows === count)!;
      return [
        engine,
        {
          roundTripVsParquet: round(full.roundTripSeconds! / parquet),
          roundTripCpuVsParquet: round(full.cpuSeconds / results[0]!.cpuSeconds),
          roundTripPeakRssMB: full.peakRssMB,
          streamPeakRssMB: { [small]: streamSmall.peakRssMB, [count]: streamFull.peakRssMB },
        },
      ];
    }),
  );
  console.log(JSON.stringify(summary, null, 2));
  writeResults('sql', {
    rows: count,
    columns: 5,
    targets: { roundTripVsParquet: '≤ 2', peakRssMB: '≤ 1024', streaming: 'flat in table size' },
    summary,
    results,
  });
}

await main();
