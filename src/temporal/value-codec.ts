import { deserialize, serialize } from 'node:v8';
import { isArrowTable, loadArrow } from '../datasets/arrow-module.js';

const ARROW = 0x41; // 'A': an Arrow table in IPC stream format
const V8 = 0x56; // 'V': any structured-cloneable value (v8 serialisation)

/**
 * Encodes an intermediate dataset's value for the run-scoped store. Arrow tables keep their type
 * (IPC format); everything else must be structured-cloneable (plain objects, arrays, typed arrays,
 * Maps, Sets, Dates): class instances come back as plain objects, so persist fitted objects with
 * a dataset such as `model.ModelStateDataset` instead.
 */
export async function encodeValue(value: unknown): Promise<Buffer> {
  if (isArrowTable(value)) {
    const ipc = (await loadArrow()).tableToIPC(value, 'stream');
    return Buffer.concat([Buffer.from([ARROW]), ipc]);
  }
  return Buffer.concat([Buffer.from([V8]), serialize(value)]);
}

export async function decodeValue(bytes: Buffer): Promise<unknown> {
  const body = bytes.subarray(1);
  switch (bytes[0]) {
    case ARROW:
      return (await loadArrow()).tableFromIPC(body);
    case V8:
      return deserialize(body);
    default:
      throw new Error(`Unknown intermediate value encoding 0x${(bytes[0] ?? 0).toString(16)}.`);
  }
}
