import { tableFromIPC, tableToIPC, Table } from 'apache-arrow';
import { deserialize, serialize } from 'node:v8';

const ARROW = 0x41; // 'A': an Arrow table in IPC stream format
const V8 = 0x56; // 'V': any structured-cloneable value (v8 serialisation)

/**
 * Encodes an intermediate dataset's value for the run-scoped store. Arrow tables keep their type
 * (IPC format); everything else must be structured-cloneable (plain objects, arrays, typed arrays,
 * Maps, Sets, Dates): class instances come back as plain objects, so persist fitted objects with
 * a dataset such as `model.ModelStateDataset` instead.
 */
export function encodeValue(value: unknown): Buffer {
  if (value instanceof Table) {
    const ipc = tableToIPC(value, 'stream');
    return Buffer.concat([Buffer.from([ARROW]), ipc]);
  }
  return Buffer.concat([Buffer.from([V8]), serialize(value)]);
}

export function decodeValue(bytes: Buffer): unknown {
  const body = bytes.subarray(1);
  switch (bytes[0]) {
    case ARROW:
      return tableFromIPC(body);
    case V8:
      return deserialize(body);
    default:
      throw new Error(`Unknown intermediate value encoding 0x${(bytes[0] ?? 0).toString(16)}.`);
  }
}
