import { SingleBar, Presets } from 'cli-progress';

/** Progress of nodes for the terminal: a live bar on a TTY, one line per change otherwise (CI, pipes). */
export interface NodeProgressView {
  update(done: number, total: number, running: readonly string[]): void;
  log(line: string): void;
  /** Runs `print` (e.g. a line to stdout) with the bar out of the way; the next update redraws it. */
  interrupt(print: () => void): void;
  stop(): void;
}

const MAX_RUNNING_SHOWN = 3;

function runningLabel(running: readonly string[]): string {
  if (running.length === 0) return '';
  const shown = running.slice(0, MAX_RUNNING_SHOWN).join(', ');
  return running.length > MAX_RUNNING_SHOWN
    ? `${shown} +${running.length - MAX_RUNNING_SHOWN}`
    : shown;
}

export function createNodeProgress(
  label: string,
  stream: NodeJS.WriteStream = process.stderr,
): NodeProgressView {
  if (!stream.isTTY) {
    let last = '';
    return {
      update(done, total, running) {
        const line = `${label}: ${done}/${total} nodes${running.length ? ` · running ${runningLabel(running)}` : ''}`;
        if (line !== last) stream.write(`${line}\n`);
        last = line;
      },
      log: (line) => void stream.write(`${line}\n`),
      interrupt: (print) => print(),
      stop: () => undefined,
    };
  }
  const bar = new SingleBar(
    {
      format: `${label} [{bar}] {value}/{total} nodes · {running}`,
      hideCursor: true,
      stream,
      clearOnComplete: false,
    },
    Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total, running) {
      if (!started) {
        bar.start(total, done, { running: runningLabel(running) });
        started = true;
      } else {
        bar.setTotal(total);
        bar.update(done, { running: runningLabel(running) });
      }
    },
    log(line) {
      this.interrupt(() => stream.write(`${line}\n`));
    },
    interrupt(print) {
      if (started) bar.stop();
      print();
      started = false;
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}
