/**
 * The example's node functions: pure, no I/O. A ticket router: a vocabulary (the fitted
 * preprocessing artifact) and a multinomial naive Bayes classifier (the fitted model) turn raw
 * tickets (business objects) into routing answers (team + confidence).
 */

export interface Ticket {
  ticket_id: string;
  subject: string;
  body: string;
}

export interface Vocabulary {
  tokens: string[];
}

export interface Features {
  ids: string[];
  /** Sparse bag-of-words counts per ticket: token index → count. */
  counts: Array<Record<number, number>>;
}

export interface Classifier {
  classes: string[];
  logPriors: number[];
  /** logLikelihoods[class][token] */
  logLikelihoods: number[][];
}

export interface RoutingAnswer {
  ticket_id: string;
  team: string;
  confidence: number;
  needs_review: boolean;
}

export function tokenize(text: string): string[] {
  return text.toLowerCase().match(/[a-z0-9]+/g) ?? [];
}

export interface Label {
  ticket_id: string;
  team: string;
}

/**
 * Deterministic split: a ticket goes to the test set when the hash of its id falls under the
 * ratio. Returns [train tickets, test tickets, train labels, test labels].
 */
export function splitTickets(
  tickets: Ticket[],
  labels: Label[],
  split: { test_ratio: number },
): [Ticket[], Ticket[], string[], string[]] {
  const teamOf = new Map(labels.map((label) => [String(label.ticket_id), String(label.team)]));
  const train: Ticket[] = [];
  const test: Ticket[] = [];
  for (const ticket of tickets) {
    let hash = 2166136261;
    for (const char of String(ticket.ticket_id))
      hash = Math.imul(hash ^ char.charCodeAt(0), 16777619) >>> 0;
    (hash / 2 ** 32 < split.test_ratio ? test : train).push(ticket);
  }
  const labelsOf = (rows: Ticket[]): string[] =>
    rows.map((ticket) => {
      const team = teamOf.get(String(ticket.ticket_id));
      if (!team)
        throw new Error(
          `ticket ${ticket.ticket_id} has no label in labels.csv: every training ticket needs one.`,
        );
      return team;
    });
  return [train, test, labelsOf(train), labelsOf(test)];
}

export function fitVocabulary(tickets: Ticket[], options: { min_count: number }): Vocabulary {
  const counts = new Map<string, number>();
  for (const ticket of tickets) {
    for (const token of tokenize(`${ticket.subject} ${ticket.body}`))
      counts.set(token, (counts.get(token) ?? 0) + 1);
  }
  const tokens = [...counts]
    .filter(([, count]) => count >= options.min_count)
    .map(([token]) => token);
  return { tokens: tokens.sort() };
}

/** Token → column of each vocabulary, built once per vocabulary object (a served model keeps one). */
const tokenIndexes = new WeakMap<Vocabulary, Map<string, number>>();

function tokenIndex(vocabulary: Vocabulary): Map<string, number> {
  let index = tokenIndexes.get(vocabulary);
  if (!index) {
    index = new Map(vocabulary.tokens.map((token, i) => [token, i]));
    tokenIndexes.set(vocabulary, index);
  }
  return index;
}

export function vectorize(tickets: Ticket[], vocabulary: Vocabulary): Features {
  const index = tokenIndex(vocabulary);
  return {
    ids: tickets.map((ticket) => String(ticket.ticket_id)),
    counts: tickets.map((ticket) => {
      const row: Record<number, number> = {};
      for (const token of tokenize(`${ticket.subject} ${ticket.body}`)) {
        const at = index.get(token);
        if (at !== undefined) row[at] = (row[at] ?? 0) + 1;
      }
      return row;
    }),
  };
}

export function trainClassifier(
  features: Features,
  labels: string[],
  vocabulary: Vocabulary,
  options: { smoothing: number },
): Classifier {
  const classes = [...new Set(labels)].sort();
  const size = vocabulary.tokens.length;
  const tokenCounts = classes.map(() => new Array<number>(size).fill(options.smoothing));
  const docCounts = classes.map(() => 0);
  features.counts.forEach((row, i) => {
    const c = classes.indexOf(labels[i]!);
    docCounts[c]!++;
    for (const [token, count] of Object.entries(row)) tokenCounts[c]![Number(token)]! += count;
  });
  return {
    classes,
    logPriors: docCounts.map((count) => Math.log(count / labels.length)),
    logLikelihoods: tokenCounts.map((counts) => {
      const total = counts.reduce((a, b) => a + b, 0);
      return counts.map((count) => Math.log(count / total));
    }),
  };
}

/** Class probabilities per ticket (softmax of the log posteriors). */
export function predictProbabilities(classifier: Classifier, features: Features): number[][] {
  return features.counts.map((row) => {
    const scores = classifier.classes.map((_, c) => {
      let score = classifier.logPriors[c]!;
      for (const [token, count] of Object.entries(row))
        score += count * classifier.logLikelihoods[c]![Number(token)]!;
      return score;
    });
    const max = Math.max(...scores);
    const exp = scores.map((score) => Math.exp(score - max));
    const sum = exp.reduce((a, b) => a + b, 0);
    return exp.map((value) => value / sum);
  });
}

export function routeTickets(
  classifier: Classifier,
  features: Features,
  minConfidence: number,
): RoutingAnswer[] {
  return predictProbabilities(classifier, features).map((probabilities, i) => {
    const best = probabilities.indexOf(Math.max(...probabilities));
    const confidence = Math.round(probabilities[best]! * 1e6) / 1e6;
    return {
      ticket_id: features.ids[i]!,
      team: classifier.classes[best]!,
      confidence,
      needs_review: confidence < minConfidence,
    };
  });
}

/** Metrics of the routing on the test set, in MlflowMetricsHistoryDataset's `{name: {value, step}}` form. */
export function evaluateRouting(
  answers: RoutingAnswer[],
  labels: string[],
): Record<string, { value: number; step: number }> {
  const correct = answers.filter((answer, i) => answer.team === labels[i]).length;
  const metric = (value: number) => ({ value, step: 0 });
  return {
    accuracy: metric(correct / answers.length),
    review_rate: metric(answers.filter((answer) => answer.needs_review).length / answers.length),
    test_size: metric(answers.length),
  };
}
