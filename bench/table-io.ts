/**
 * Table IO benchmark: a 1,000,000-row table (6 columns: 2 integers, 2 floats, 2 strings) saved
 * then loaded through csv.CSVDataset and parquet.ParquetDataset, in rows mode and arrow mode.
 * Each case runs in its own child process so its peak RSS (process.resourceUsage().maxRSS) is
 * its own. Prints a table and writes bench/results/table-io.json.
 *
 *   node --import tsx bench/table-io.ts [--rows 1000000] [--cases csv-rows,parquet-rows,...]
 *
 * Targets (issue 3): round trip ≤ 15 s, peak RSS ≤ 1.5 GB, Parquet faster than CSV.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CSVDataset } from '../src/datasets/csv-dataset.js';
import { ParquetDataset } from '../src/datasets/parquet-dataset.js';
import type { Row, TableData, TableFormat } from '../src/datasets/table.js';
import { columnsToArrow, rowsToColumns } from '../src/datasets/table.js';

const CASES = ['csv-rows', 'parquet-rows', 'csv-arrow', 'parquet-arrow'] as const;
type CaseName = (typeof CASES)[number];

interface CaseResult {
  case: CaseName;
  rows: number;
  saveSeconds: number;
  loadSeconds: number;
  roundTripSeconds: number;
  peakRssMB: number;
  fileMB: number;
}

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

function makeRows(count: number): Row[] {
  const cities = [
    'Amsterdam',
    'Berlin',
    'Copenhagen',
    'Dublin',
    'Edinburgh',
    'Florence',
    'Geneva',
    'Helsinki',
  ];
  const rows = new Array<Row>(count);
  let seed = 42;
  const random = (): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed / 2_147_483_648;
  };
  for (let i = 0; i < count; i++) {
    rows[i] = {
      id: i,
      quantity: Math.floor(random() * 1000),
      price: Math.round(random() * 100_000) / 100,
      score: random(),
      city: cities[i % cities.length],
      code: `C${(i * 7919) % 1_000_003}`,
    };
  }
  return rows;
}

async function runCase(name: CaseName, count: number): Promise<CaseResult> {
  const [format, mode] = name.split('-') as ['csv' | 'parquet', TableFormat];
  const dir = mkdtempSync(join(tmpdir(), 'table-io-'));
  try {
    const filepath = join(dir, `table.${format}`);
    const dataset =
      format === 'csv'
        ? new CSVDataset({ filepath, table: mode })
        : new ParquetDataset({ filepath, table: mode });
    let data: TableData = makeRows(count);
    if (mode === 'arrow') data = await columnsToArrow(rowsToColumns(data));
    const t0 = performance.now();
    await dataset.save(data);
    const t1 = performance.now();
    const loaded = await dataset.load();
    const t2 = performance.now();
    const loadedRows = Array.isArray(loaded) ? loaded.length : loaded.numRows;
    if (loadedRows !== count)
      throw new Error(`${name}: loaded ${loadedRows} rows, expected ${count}`);
    return {
      case: name,
      rows: count,
      saveSeconds: round((t1 - t0) / 1000),
      loadSeconds: round((t2 - t1) / 1000),
      roundTripSeconds: round((t2 - t0) / 1000),
      peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
      fileMB: round(statSync(filepath).size / 2 ** 20),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

async function main(): Promise<void> {
  const count = Number(argument('rows') ?? 1_000_000);
  const child = argument('case') as CaseName | undefined;
  if (child) {
    process.stdout.write(JSON.stringify(await runCase(child, count)));
    return;
  }
  const selected = (argument('cases')?.split(',') ?? [...CASES]) as CaseName[];
  const self = fileURLToPath(import.meta.url);
  const results: CaseResult[] = [];
  for (const name of selected) {
    const output = execFileSync(
      process.execPath,
      ['--import', 'tsx', self, '--case', name, '--rows', String(count)],
      {
        encoding: 'utf8',
        maxBuffer: 1 << 20,
      },
    );
    const result = JSON.parse(output) as CaseResult;
    results.push(result);
    console.log(
      `${name.padEnd(14)} save ${result.saveSeconds.toFixed(2)} s  load ${result.loadSeconds.toFixed(2)} s  ` +
        `round trip ${result.roundTripSeconds.toFixed(2)} s  peak RSS ${result.peakRssMB} MB  file ${result.fileMB} MB`,
    );
  }
  const out = join(dirname(self), 'results', 'table-io.json');
  mkdirSync(dirname(out), { recursive: true });
  const report = { rows: count, node: process.version, date: new Date().toISOString(), results };
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`wrote ${out}`);
}

await main();
