/** Small helpers shared by the API modules: tag conversion, paging, bounded concurrency. */
import type { KeyValue, Page, TagsInput } from './types.js';
import { validateTag } from './validation.js';

/** MLflow's `{key, value}` list from a record or a list, each tag checked before sending. */
export function toKeyValues(tags: TagsInput): KeyValue[] {
  const entries = Array.isArray(tags)
    ? tags.map((t) => [t.key, t.value] as const)
    : Object.entries(tags);
  return entries.map(([key, value]) => ({ key, value: validateTag(key, value) }));
}

/** A record from MLflow's `{key, value}` list (later keys win). */
export function tagsToRecord(tags: readonly KeyValue[] | undefined): Record<string, string> {
  return Object.fromEntries((tags ?? []).map((t) => [t.key, t.value]));
}

/** Iterates over every item of a paged search, fetching pages lazily. */
export async function* paginate<T>(
  fetchPage: (pageToken: string | undefined) => Promise<Page<T>>,
): AsyncGenerator<T> {
  let token: string | undefined;
  do {
    const page = await fetchPage(token);
    yield* page.items;
    token = page.nextPageToken;
  } while (token);
}

/** Runs `task(0..count-1)` with at most `concurrency` in flight; rejects with the first failure. */
export async function runBounded(
  count: number,
  concurrency: number,
  task: (index: number) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, concurrency), count) }, worker));
}
