/**
 * Payload encryption for Temporal: an AES-256-GCM {@link PayloadCodec}.
 *
 * Every payload a client or worker sends (workflow and activity arguments, results, memos,
 * heartbeat details) is replaced by an encrypted one before it leaves the process, so the
 * Temporal server, its database and anyone reading history see ciphertext only:
 *
 * ```
 * metadata: { encoding: "binary/encrypted", encryption-key-id: "<id>" }
 * data:     iv (12 random bytes) || AES-256-GCM(Payload protobuf) || tag (16 bytes)
 * ```
 *
 * The plaintext is the original `temporal.api.common.v1.Payload` protobuf (not length-delimited),
 * the layout Temporal's Go and Python encryption samples use, so their codec servers can read ours.
 * Search attributes are indexed by the server and are never encrypted.
 *
 * Keys come from the environment unless given:
 * - `TEMPORAL_MLFLOW_CODEC_KEY`: base64 of 32 random bytes (`temporal-mlflow codec-key` prints one);
 * - `TEMPORAL_MLFLOW_CODEC_KEY_ID`: the id stored with each payload (default `default`);
 * - `TEMPORAL_MLFLOW_CODEC_PREVIOUS_KEYS`: `id:base64,id:base64` — retired keys still accepted when
 *   decoding, so keys can rotate without losing old histories.
 */
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
import { temporalCommon, temporalProto } from './lazy-modules.js';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const payloadMessage = () => temporalProto().temporal.api.common.v1.Payload;

/** The `encoding` metadata value of an encrypted payload. */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
/** The metadata key holding the id of the key a payload was encrypted with. */
export const METADATA_ENCRYPTION_KEY_ID = 'encryption-key-id';

/** Environment variables read by {@link createEncryptionCodec}. */
export const CODEC_KEY_ENV = 'TEMPORAL_MLFLOW_CODEC_KEY';
export const CODEC_KEY_ID_ENV = 'TEMPORAL_MLFLOW_CODEC_KEY_ID';
export const CODEC_PREVIOUS_KEYS_ENV = 'TEMPORAL_MLFLOW_CODEC_PREVIOUS_KEYS';
/** The key id used when none is configured. */
export const DEFAULT_CODEC_KEY_ID = 'default';

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const ALGORITHM = 'aes-256-gcm';
const GENERATE_HINT = `Generate one with \`temporal-mlflow codec-key\` (or \`openssl rand -base64 32\`).`;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const KEY_ID = /^[^\s:,]+$/;

/** A codec key is missing, malformed or unknown; `envVar` names the variable to fix when it came from the environment. */
export class CodecKeyError extends Error {
  override readonly name = 'CodecKeyError';
  constructor(
    message: string,
    readonly keyId?: string,
    readonly envVar?: string,
  ) {
    super(message);
  }
}

/** A payload could not be decrypted: wrong key for its id, or the ciphertext was altered. */
export class CodecDecryptError extends Error {
  override readonly name = 'CodecDecryptError';
  constructor(
    message: string,
    readonly keyId: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Options of {@link createEncryptionCodec}. */
export interface EncryptionCodecOptions {
  /**
   * Keys by id (32 bytes each). The active key encrypts; every key decrypts.
   * @default from the environment: `TEMPORAL_MLFLOW_CODEC_KEY` under `TEMPORAL_MLFLOW_CODEC_KEY_ID`,
   * plus `TEMPORAL_MLFLOW_CODEC_PREVIOUS_KEYS`
   */
  keys?: Record<string, Uint8Array>;
  /**
   * Id of the key that encrypts new payloads.
   * @default the only key of `keys`, else `TEMPORAL_MLFLOW_CODEC_KEY_ID`, else `'default'`
   */
  activeKeyId?: string;
  /** Where to read the variables. @default process.env */
  env?: NodeJS.ProcessEnv;
}

/** Normalised codec settings: every key checked, the active one present. */
interface CompiledCodecOptions {
  keys: ReadonlyMap<string, Buffer>;
  activeKeyId: string;
}

/** An AES-256-GCM payload codec; `keyIds` lists the ids it can decrypt. */
export interface EncryptionCodec extends PayloadCodec {
  readonly activeKeyId: string;
  readonly keyIds: readonly string[];
}

/** A new random key, base64 — the value of `TEMPORAL_MLFLOW_CODEC_KEY`. */
export function generateCodecKey(): string {
  return randomBytes(KEY_BYTES).toString('base64');
}

/** Creates the encryption codec from explicit keys or the environment (see the module doc). */
export function createEncryptionCodec(options: EncryptionCodecOptions = {}): EncryptionCodec {
  const { keys, activeKeyId } = compileCodecOptions(options);
  const activeKey = keys.get(activeKeyId) as Buffer;
  const activeKeyIdBytes = utf8(activeKeyId);
  const encryptedEncoding = utf8(ENCRYPTED_ENCODING);

  const encryptOne = (payload: Payload): Payload => {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, activeKey, iv);
    const plaintext = payloadMessage().encode(payload).finish();
    const ciphertext = Buffer.concat([
      iv,
      cipher.update(plaintext),
      cipher.final(),
      cipher.getAuthTag(),
    ]);
    return {
      metadata: {
        [temporalCommon().METADATA_ENCODING_KEY]: encryptedEncoding,
        [METADATA_ENCRYPTION_KEY_ID]: activeKeyIdBytes,
      },
      data: ciphertext,
    };
  };

  const decryptOne = (payload: Payload): Payload => {
    const encoding = payload.metadata?.[temporalCommon().METADATA_ENCODING_KEY];
    // Payloads written before encryption was turned on (or by other codecs) pass through.
    if (!encoding || Buffer.from(encoding).toString('utf8') !== ENCRYPTED_ENCODING) return payload;
    const keyIdBytes = payload.metadata?.[METADATA_ENCRYPTION_KEY_ID];
    if (!keyIdBytes) {
      throw new CodecDecryptError(
        `Encrypted payload has no '${METADATA_ENCRYPTION_KEY_ID}' metadata: it was not written by this codec.`,
        '',
      );
    }
    const keyId = Buffer.from(keyIdBytes).toString('utf8');
    const key = keys.get(keyId);
    if (!key) {
      throw new CodecKeyError(
        `Payload was encrypted with key '${keyId}', which this codec does not have (it knows ${[
          ...keys.keys(),
        ]
          .sort()
          .map((id) => `'${id}'`)
          .join(', ')}). Add it to ${CODEC_PREVIOUS_KEYS_ENV} as '${keyId}:<base64 key>'.`,
        keyId,
        CODEC_PREVIOUS_KEYS_ENV,
      );
    }
    const data = Buffer.from(payload.data ?? new Uint8Array());
    if (data.length < IV_BYTES + TAG_BYTES) {
      throw new CodecDecryptError(
        `Encrypted payload (key '${keyId}') is truncated: ${data.length} bytes, expected at least ${IV_BYTES + TAG_BYTES}.`,
        keyId,
      );
    }
    const decipher = createDecipheriv(ALGORITHM, key, data.subarray(0, IV_BYTES));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    let plaintext: Buffer;
    try {
      plaintext = Buffer.concat([
        decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)),
        decipher.final(),
      ]);
    } catch (cause) {
      throw new CodecDecryptError(
        `Could not decrypt payload with key '${keyId}': AES-GCM authentication failed. ` +
          `The key stored under '${keyId}' is not the one that encrypted it, or the payload was altered.`,
        keyId,
        { cause },
      );
    }
    return payloadMessage().decode(plaintext);
  };

  return {
    activeKeyId,
    keyIds: [...keys.keys()].sort(),
    async encode(payloads) {
      return payloads.map(encryptOne);
    },
    async decode(payloads) {
      return payloads.map(decryptOne);
    },
  };
}

/**
 * A data converter for `new Client({ dataConverter })` and `Worker.create({ dataConverter })`
 * that encrypts every payload; both sides need the same keys.
 */
export function encryptionDataConverter(
  options: EncryptionCodecOptions | EncryptionCodec = {},
): DataConverter {
  const codec = 'encode' in options ? options : createEncryptionCodec(options);
  return { payloadCodecs: [codec] };
}

function compileCodecOptions(options: EncryptionCodecOptions): CompiledCodecOptions {
  const env = options.env ?? process.env;
  const keys = new Map<string, Buffer>();
  let activeKeyId: string;
  if (options.keys) {
    for (const [id, key] of Object.entries(options.keys))
      keys.set(checkKeyId(id), checkKeyLength(Buffer.from(key), id));
    const only = keys.size === 1 ? [...keys.keys()][0] : undefined;
    activeKeyId = options.activeKeyId ?? only ?? env[CODEC_KEY_ID_ENV] ?? DEFAULT_CODEC_KEY_ID;
  } else {
    activeKeyId = checkKeyId(
      options.activeKeyId ?? (env[CODEC_KEY_ID_ENV] || DEFAULT_CODEC_KEY_ID),
      CODEC_KEY_ID_ENV,
    );
    const raw = env[CODEC_KEY_ENV]?.trim();
    if (!raw) {
      throw new CodecKeyError(
        `Payload encryption needs a key: set ${CODEC_KEY_ENV} to the base64 of 32 random bytes. ${GENERATE_HINT}`,
        activeKeyId,
        CODEC_KEY_ENV,
      );
    }
    keys.set(activeKeyId, parseKey(raw, activeKeyId, CODEC_KEY_ENV));
    for (const [id, key] of parsePreviousKeys(env[CODEC_PREVIOUS_KEYS_ENV] ?? '')) {
      if (id === activeKeyId) {
        throw new CodecKeyError(
          `${CODEC_PREVIOUS_KEYS_ENV} repeats the active key id '${id}' (${CODEC_KEY_ID_ENV}); give the retired key another id.`,
          id,
          CODEC_PREVIOUS_KEYS_ENV,
        );
      }
      keys.set(id, key);
    }
  }
  if (!keys.has(activeKeyId)) {
    throw new CodecKeyError(
      `activeKeyId '${activeKeyId}' is not one of the keys given (${[...keys.keys()].sort().join(', ') || 'none'}).`,
      activeKeyId,
    );
  }
  return { keys, activeKeyId };
}

function parsePreviousKeys(value: string): Array<[string, Buffer]> {
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const colon = entry.indexOf(':');
      if (colon <= 0) {
        throw new CodecKeyError(
          `${CODEC_PREVIOUS_KEYS_ENV} must be a comma-separated list of 'id:base64key', got an entry without an id.`,
          undefined,
          CODEC_PREVIOUS_KEYS_ENV,
        );
      }
      const id = checkKeyId(entry.slice(0, colon), CODEC_PREVIOUS_KEYS_ENV);
      return [id, parseKey(entry.slice(colon + 1), id, CODEC_PREVIOUS_KEYS_ENV)];
    });
}

function parseKey(base64: string, keyId: string, envVar: string): Buffer {
  if (!BASE64.test(base64)) {
    throw new CodecKeyError(
      `${envVar} (key '${keyId}') is not base64. ${GENERATE_HINT}`,
      keyId,
      envVar,
    );
  }
  return checkKeyLength(Buffer.from(base64, 'base64'), keyId, envVar);
}

function checkKeyLength(key: Buffer, keyId: string, envVar?: string): Buffer {
  if (key.length !== KEY_BYTES) {
    const where = envVar ? `${envVar} (key '${keyId}')` : `Codec key '${keyId}'`;
    throw new CodecKeyError(
      `${where} must be ${KEY_BYTES} bytes for AES-256, got ${key.length}. ${GENERATE_HINT}`,
      keyId,
      envVar,
    );
  }
  return key;
}

function checkKeyId(id: string, envVar?: string): string {
  if (!KEY_ID.test(id)) {
    throw new CodecKeyError(
      `Codec key id ${JSON.stringify(id)}${envVar ? ` (from ${envVar})` : ''} must be non-empty, without spaces, ':' or ','.`,
      id,
      envVar,
    );
  }
  return id;
}

function utf8(text: string): Uint8Array {
  return Buffer.from(text, 'utf8');
}

/**
 * The encrypting data converter when `TEMPORAL_MLFLOW_CODEC_KEY` is set (and not empty), else
 * undefined: workers and clients of this package use it so both sides agree without code.
 */
export function dataConverterFromEnv(
  env: NodeJS.ProcessEnv = process.env,
): DataConverter | undefined {
  return env[CODEC_KEY_ENV] ? encryptionDataConverter({ env }) : undefined;
}
