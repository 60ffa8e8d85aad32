import { Presets, SingleBar } from 'cli-progress';

/** Progress of rows scored: a live bar on a TTY, a line per 10 % (or per 100k rows) otherwise. */
export interface RowProgressView {
  update(done: number, total: number | undefined): void;
  stop(): void;
}

export function createRowProgress(
  label: string,
  stream: NodeJS.WriteStream = process.stderr,
): RowProgressView {
  const started = Date.now();
  const rate = (done: number): string =>
    `${Math.round(done / Math.max(0.001, (Date.now() - started) / 1000)).toLocaleString('en-US')} rows/s`;
  if (!stream.isTTY) {
    let lastStep = -1;
    return {
      update(done, total) {
        const step = total
          ? Math.floor((done / Math.max(1, total)) * 10)
          : Math.floor(done / 100_000);
        if (step === lastStep || (done === 0 && total !== 0)) return;
        lastStep = step;
        stream.write(
          `${label}: ${done}${total !== undefined ? `/${total}` : ''} rows · ${rate(done)}\n`,
        );
      },
      stop: () => undefined,
    };
  }
  const bar = new SingleBar(
    {
      format: `${label} [{bar}] {value}/{total} rows · {rate}`,
      hideCursor: true,
      stream,
      clearOnComplete: false,
      etaBuffer: 20,
    },
    Presets.shades_classic,
  );
  let running = false;
  return {
    update(done, total) {
      const size = total ?? Math.max(done, 1);
      if (!running) {
        bar.start(size, done, { rate: rate(done) });
        running = true;
      } else {
        bar.setTotal(size);
        bar.update(done, { rate: rate(done) });
      }
    },
    stop() {
      if (running) bar.stop();
      running = false;
    },
  };
}
