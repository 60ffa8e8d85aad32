import type { Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { SEARCH_ATTRIBUTE_MLFLOW_RUN_ID, SEARCH_ATTRIBUTE_PIPELINE_NAME } from '../constants.js';

const KEYWORD = proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;

/** The typed search attributes the training workflow upserts. */
export const SEARCH_ATTRIBUTES = [
  SEARCH_ATTRIBUTE_PIPELINE_NAME,
  SEARCH_ATTRIBUTE_MLFLOW_RUN_ID,
] as const;

/**
 * Registers the search attributes the training workflow upserts (Keyword) on the namespace when
 * they are missing, through the operator service. The dev server started by scripts/services has
 * them already; Temporal Cloud refuses the operator call (register them with its tools instead):
 * the error says so.
 */
export async function ensureSearchAttributes(
  connection: Connection,
  namespace: string,
): Promise<string[]> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const known = new Set([
    ...Object.keys(existing.customAttributes ?? {}),
    ...Object.keys(existing.systemAttributes ?? {}),
  ]);
  const missing = SEARCH_ATTRIBUTES.filter((name) => !known.has(name));
  if (missing.length === 0) return [];
  try {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((name) => [name, KEYWORD])),
    });
  } catch (error) {
    throw new Error(
      `Search attributes ${missing.join(', ')} are missing on namespace '${namespace}' and could not be created ` +
        `(${(error as Error).message}). Create them as Keyword: temporal operator search-attribute create --name <name> --type Keyword.`,
      { cause: error },
    );
  }
  return missing;
}
