/**
 * How a sweep ranks its trials, shared by the sweep workflow (its best trial so far) and the
 * activity that logs its outcome (which ranks the trials it reads last): no imports, so both can.
 */

/** A trial with its metric, as ranked. */
export interface RankedTrial {
  trial: number;
  metric: number;
}

/** True when `candidate` beats `best`: a better metric, or the same one from an earlier trial. */
export function beatsTrial(
  candidate: RankedTrial,
  best: RankedTrial | undefined,
  maximize: boolean,
): boolean {
  if (!best) return true;
  // Ties go to the earlier trial, whatever order the reads finish in.
  if (candidate.metric === best.metric) return candidate.trial < best.trial;
  return maximize ? candidate.metric > best.metric : candidate.metric < best.metric;
}
