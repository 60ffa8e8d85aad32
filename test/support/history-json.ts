/**
 * JSON histories (the format of `temporal workflow show --output json` and of the Temporal UI's
 * download), read and written with the ProtoJSON codec of the protobufjs copy that
 * `@temporalio/proto` itself uses. The SDK's `historyFromJSON` / `historyToJSON` (which
 * `Worker.runReplayHistory` calls for JSON input) use `@temporalio/common`'s own copy, and fail
 * with "type must be a Type" whenever npm installs the two packages separate copies, as it does
 * here (a protobufjs@7 hoisted for @grpc/proto-loader): `instanceof` across copies is false.
 */
import proto from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type History = proto.temporal.api.history.v1.IHistory;

interface ProtoJson {
  fromJson(type: unknown, json: unknown, options?: { ignoreUnknownFields?: boolean }): History;
  toJson(type: unknown, message: unknown): unknown;
}
const requireFromProto = createRequire(createRequire(import.meta.url).resolve('@temporalio/proto'));
const protoJson = requireFromProto('protobufjs/ext/protojson') as ProtoJson;
const historyType = (
  patchProtobufRoot(proto) as unknown as { lookupType(name: string): unknown }
).lookupType('temporal.api.history.v1.History');

export const historyFromJson = (json: unknown): History =>
  protoJson.fromJson(historyType, json, { ignoreUnknownFields: true });
export const historyToJson = (history: History): unknown =>
  protoJson.toJson(historyType, proto.temporal.api.history.v1.History.fromObject(history));

/** The committed history of a diamond run that the replay test replays. */
export const committedDiamondHistory = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  'temporal',
  'fixtures',
  'diamond-history.json',
);

export const readHistoryFile = (file: string): History =>
  historyFromJson(JSON.parse(readFileSync(file, 'utf8')));

export const writeHistoryFile = (file: string, history: History): void =>
  writeFileSync(file, `${JSON.stringify(historyToJson(history), null, 1)}\n`);
