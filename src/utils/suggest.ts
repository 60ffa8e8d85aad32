/** "Did you mean" suggestions for unknown names (nodes, datasets, keys, types, pipelines). */
/** Levenshtein edit distance, with an early exit once it exceeds `max`. */
export function levenshtein(a: string, b: string, max = Number.POSITIVE_INFINITY): number {
  if (a === b) return 0;
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const value = Math.min(
        (previous[j] ?? 0) + 1,
        (current[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + cost,
      );
      current.push(value);
      if (value < rowMin) rowMin = value;
    }
    if (rowMin > max) return max + 1;
    previous = current;
  }
  return previous[b.length] ?? max + 1;
}

/**
 * The candidate closest to `name`, or undefined when none is close enough. A candidate that is
 * `name` under a namespace (`ns.name`) or differs only in case wins outright.
 */
export function closestMatch(name: string, candidates: Iterable<string>): string | undefined {
  const lower = name.toLowerCase();
  const max = Math.max(2, Math.floor(name.length * 0.4));
  let best: string | undefined;
  let bestDistance = max + 1;
  for (const candidate of candidates) {
    if (candidate.toLowerCase() === lower || candidate.endsWith(`.${name}`)) {
      if (bestDistance > -1 || candidate < (best ?? '')) best = candidate;
      bestDistance = -1;
      continue;
    }
    if (bestDistance === -1) continue;
    const distance = levenshtein(lower, candidate.toLowerCase(), bestDistance);
    if (
      distance < bestDistance ||
      (distance === bestDistance && best !== undefined && candidate < best)
    ) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= max ? best : undefined;
}

/** Suggestions for each unknown name that has a close candidate. */
export function suggestAll(
  names: Iterable<string>,
  candidates: Iterable<string>,
): Record<string, string> {
  const pool = [...candidates];
  const out: Record<string, string> = {};
  for (const name of names) {
    const suggestion = closestMatch(name, pool);
    if (suggestion !== undefined) out[name] = suggestion;
  }
  return out;
}

/** `" Did you mean 'x'?"` or an empty string. */
export function didYouMean(name: string, candidates: Iterable<string>): string {
  const match = closestMatch(name, candidates);
  return match ? ` Did you mean '${match}'?` : '';
}
