import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  statSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';

/**
 * The small values of one run in a folder of the local intermediate store, as records appended to
 * one log file per writing process (`<pid>-<random>.log`) instead of a file per value: creating a
 * file is a journaled change of its folder, which on a disk busy with other writes (a database
 * syncing on the same disk) cost 0.2–0.6 ms per node, where appending to an open file costs a few
 * microseconds. Any process sharing the folder finds a value by reading the logs (each log is read
 * once, then only what was appended since); the latest record of a dataset wins, as the last
 * rename did. A record is `magic, header length, header (JSON), value bytes`, written by one
 * `write` call; a record cut short by a crash is never read. A value kept in a file of its own (a
 * large one) has a record too, saying so, so that it wins or loses against the log's by its time.
 */
const MAGIC = 0x544d5631; // 'TMV1'
const PREFIX_BYTES = 8;
const LOG_SUFFIX = '.log';

interface RecordHeader {
  /** The dataset. */
  d: string;
  /** Milliseconds since the epoch when it was written, and a sequence number within the process. */
  at: number;
  seq: number;
  /** Bytes of the value that follow the header (0 with `file`). */
  n: number;
  /** The value is in the dataset's own file, not here. */
  file?: true;
}

/** Where the latest value of a dataset is. */
export interface LoggedValue {
  readonly at: number;
  readonly seq: number;
  readonly log: string;
  readonly offset: number;
  readonly size: number;
  /** The value is in the dataset's own file. */
  readonly inFile: boolean;
}

interface ReadState {
  ino: number;
  offset: number;
}

let sequence = 0;

const newer = (a: LoggedValue, b: LoggedValue | undefined): boolean =>
  b === undefined || a.at > b.at || (a.at === b.at && a.seq > b.seq);

/** The logs of one run folder, as this process writes and reads them. */
export class RunValueLog {
  /** This process's log: its descriptor (read and append), inode and length. */
  #own: { path: string; fd: number; ino: number; end: number } | undefined;
  /** How far each log of the folder has been read (this process's own: as far as it wrote). */
  readonly #read = new Map<string, ReadState>();
  readonly #index = new Map<string, LoggedValue>();

  constructor(readonly folder: string) {}

  /** Appends a value (or, with `inFile`, a record that the value is in the dataset's own file). */
  append(dataset: string, value: Uint8Array | 'inFile'): void {
    const own = this.#ownLog();
    const header: RecordHeader = {
      d: dataset,
      at: Date.now(),
      seq: ++sequence,
      n: value === 'inFile' ? 0 : value.byteLength,
      ...(value === 'inFile' ? { file: true as const } : {}),
    };
    const headerBytes = Buffer.from(JSON.stringify(header));
    const record = Buffer.allocUnsafe(PREFIX_BYTES + headerBytes.length + header.n);
    record.writeUInt32LE(MAGIC, 0);
    record.writeUInt32LE(headerBytes.length, 4);
    headerBytes.copy(record, PREFIX_BYTES);
    if (value !== 'inFile') record.set(value, PREFIX_BYTES + headerBytes.length);
    let written = 0;
    while (written < record.length) written += writeSync(own.fd, record, written);
    this.#remember(header, own.path, own.end + PREFIX_BYTES + headerBytes.length);
    own.end += record.length;
    this.#read.set(own.path, { ino: own.ino, offset: own.end });
  }

  /** The latest record of a dataset in any log of the folder, or undefined. */
  find(dataset: string): LoggedValue | undefined {
    let names: string[];
    try {
      names = readdirSync(this.folder);
    } catch {
      this.#forget();
      return undefined;
    }
    const logs = new Set(names.filter((name) => name.endsWith(LOG_SUFFIX)));
    // A log gone or replaced (the run was cleared, then stored again): start over.
    for (const name of this.#read.keys()) {
      if (!logs.has(name)) {
        this.#forget();
        break;
      }
    }
    for (const name of logs) if (name !== this.#own?.path) this.#readNew(name);
    return this.#index.get(dataset);
  }

  /** The bytes of a value found by `find` (not one kept in a file of its own). */
  read(value: LoggedValue): Buffer {
    const bytes = Buffer.allocUnsafe(value.size);
    const own = this.#own && value.log === this.#own.path ? this.#own.fd : undefined;
    const fd = own ?? openSync(join(this.folder, value.log), 'r');
    try {
      let done = 0;
      while (done < value.size) {
        const got = readSync(fd, bytes, done, value.size - done, value.offset + done);
        if (got === 0) throw new Error(`The run's value log ${value.log} ends before its record.`);
        done += got;
      }
    } finally {
      if (own === undefined) closeSync(fd);
    }
    return bytes;
  }

  /** Closes this process's log (the folder may be removed). */
  close(): void {
    this.#forget();
  }

  #ownLog(): { path: string; fd: number; ino: number; end: number } {
    const own = this.#own;
    // Still the file this process opened (the folder may have been cleared by another process).
    if (own && statSync(join(this.folder, own.path), { throwIfNoEntry: false })?.ino === own.ino)
      return own;
    this.#forget();
    mkdirSync(this.folder, { recursive: true });
    const path = `${process.pid}-${randomBytes(4).toString('hex')}${LOG_SUFFIX}`;
    const fd = openSync(join(this.folder, path), 'a+');
    this.#own = { path, fd, ino: fstatSync(fd).ino, end: 0 };
    return this.#own;
  }

  /** Reads the records appended to a log since it was last read. */
  #readNew(name: string): void {
    const file = join(this.folder, name);
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch {
      return; // removed meanwhile
    }
    try {
      const { ino, size } = fstatSync(fd);
      let state = this.#read.get(name);
      if (!state || state.ino !== ino) this.#read.set(name, (state = { ino, offset: 0 }));
      if (size <= state.offset) return;
      const bytes = Buffer.allocUnsafe(size - state.offset);
      const got = readSync(fd, bytes, 0, bytes.length, state.offset);
      let at = 0;
      while (at + PREFIX_BYTES <= got) {
        if (bytes.readUInt32LE(at) !== MAGIC) break; // not a record: read no further
        const headerLength = bytes.readUInt32LE(at + 4);
        if (at + PREFIX_BYTES + headerLength > got) break;
        const header = JSON.parse(
          bytes.toString('utf8', at + PREFIX_BYTES, at + PREFIX_BYTES + headerLength),
        ) as RecordHeader;
        const end = at + PREFIX_BYTES + headerLength + header.n;
        if (end > got) break; // still being written, or cut short
        this.#remember(header, name, state.offset + at + PREFIX_BYTES + headerLength);
        at = end;
      }
      state.offset += at;
    } finally {
      closeSync(fd);
    }
  }

  #remember(header: RecordHeader, log: string, offset: number): void {
    const value: LoggedValue = {
      at: header.at,
      seq: header.seq,
      log,
      offset,
      size: header.n,
      inFile: header.file === true,
    };
    if (newer(value, this.#index.get(header.d))) this.#index.set(header.d, value);
  }

  /** Forgets what was read, and closes this process's log. */
  #forget(): void {
    this.#index.clear();
    this.#read.clear();
    if (this.#own) {
      closeSync(this.#own.fd);
      this.#own = undefined;
    }
  }
}
