import type { Connection } from '@temporalio/client';
import { temporalProto } from './lazy-modules.js';
import {
  SEARCH_ATTRIBUTE_MLFLOW_RUN_ID,
  SEARCH_ATTRIBUTE_PENDING_APPROVAL,
  SEARCH_ATTRIBUTE_PIPELINE_NAME,
} from '../constants.js';

/** The typed search attributes temporal-mlflow's workflows upsert, with their types. */
const SEARCH_ATTRIBUTE_TYPES = {
  [SEARCH_ATTRIBUTE_PIPELINE_NAME]: 'Keyword',
  [SEARCH_ATTRIBUTE_MLFLOW_RUN_ID]: 'Keyword',
  [SEARCH_ATTRIBUTE_PENDING_APPROVAL]: 'Bool',
} as const;

/** The operator service's value of a search attribute type. */
function indexedValueType(type: 'Keyword' | 'Bool') {
  const { INDEXED_VALUE_TYPE_KEYWORD, INDEXED_VALUE_TYPE_BOOL } =
    temporalProto().temporal.api.enums.v1.IndexedValueType;
  return type === 'Bool' ? INDEXED_VALUE_TYPE_BOOL : INDEXED_VALUE_TYPE_KEYWORD;
}

/** The typed search attributes the workflows upsert. */
export const SEARCH_ATTRIBUTES = Object.keys(SEARCH_ATTRIBUTE_TYPES) as readonly string[];

/**
 * Registers the search attributes the workflows upsert on the namespace when they are missing,
 * through the operator service. The dev server started by scripts/services has them already;
 * Temporal Cloud refuses the operator call (register them with its tools instead): the error says
 * so.
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
      searchAttributes: Object.fromEntries(
        missing.map((name) => [
          name,
          indexedValueType(SEARCH_ATTRIBUTE_TYPES[name as keyof typeof SEARCH_ATTRIBUTE_TYPES]),
        ]),
      ),
    });
  } catch (error) {
    const how = missing
      .map(
        (name) =>
          `temporal operator search-attribute create --name ${name} --type ${SEARCH_ATTRIBUTE_TYPES[name as keyof typeof SEARCH_ATTRIBUTE_TYPES]}`,
      )
      .join('; ');
    throw new Error(
      `Search attributes ${missing.join(', ')} are missing on namespace '${namespace}' and could not be created ` +
        `(${(error as Error).message}). Create them: ${how}.`,
      { cause: error },
    );
  }
  return missing;
}
