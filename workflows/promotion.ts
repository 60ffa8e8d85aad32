/**
 * The promotion gate, shared by the training and sweep workflows: compare the new version with the
 * alias holder, optionally wait (durably: a workflow condition and timer, no worker slot) for the
 * `approve` / `reject` Update, then record the decision on the version and move the alias.
 */
import {
  CancellationScope,
  condition,
  isCancellation,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { LifecycleActivities } from '../activities/lifecycle-activities.js';
import { approveUpdate, pendingApprovalKey, rejectUpdate } from './definitions.js';
import { locallyFirst, onRightWorker } from './right-worker.js';
import type {
  ApprovalAnswer,
  ApprovalInput,
  LoggedModelRef,
  PromotionDecision,
  PromotionPolicy,
  RunContext,
} from '../src/temporal/types.js';

// Recording waits out an MLflow outage instead of losing a decision a person took.
const { evaluatePromotion, recordPromotion } = proxyActivities<LifecycleActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
  summary: 'promotion gate',
});
// First as a local activity (one attempt: no activity task, no extra workflow task, ~2 of the
// gate's round trips), then, if it fails (an MLflow outage, a worker that does not serve the
// run), as the regular activity above with its retries.
const { evaluatePromotion: evaluateLocally, recordPromotion: recordLocally } =
  proxyLocalActivities<LifecycleActivities>({
    startToCloseTimeout: '2 minutes',
    retry: { maximumAttempts: 1 },
    summary: 'promotion gate',
  });

/**
 * Gates that ran the steps as regular activities only (before 26e9133) may wait days for approval:
 * their histories replay as they ran, without the local attempt.
 */
export const PROMOTION_LOCAL_FIRST_PATCH = 'promotion-local-first';

interface Verdict {
  approved: boolean;
  approver: string;
  comment?: string;
}

const MAX_COMMENT = 5_000;

/**
 * The `approve` / `reject` Updates of a workflow. Installed when the workflow starts, so an Update
 * sent at any time gets an answer: refused (by the validator) unless a promotion awaits approval.
 * An accepted Update answers once the decision is recorded and the alias moved (or not).
 */
export class ApprovalGate {
  #pending: { registeredModelName: string; version: string; alias: string } | undefined;
  #verdict: Verdict | undefined;
  #recorded = false;

  install(): void {
    for (const [update, approved] of [
      [approveUpdate, true],
      [rejectUpdate, false],
    ] as const) {
      setHandler(
        update,
        async (input: ApprovalInput): Promise<ApprovalAnswer> => {
          const pending = this.#pending!;
          this.#verdict = {
            approved,
            approver: input?.approver?.trim() || 'unknown',
            ...(input?.comment ? { comment: input.comment.slice(0, MAX_COMMENT) } : {}),
          };
          await condition(() => this.#recorded);
          return {
            accepted: true,
            decision: approved ? 'approved' : 'rejected',
            ...pending,
          };
        },
        {
          validator: (input: ApprovalInput) => {
            if (!this.#pending)
              throw new Error('No promotion awaits approval in this workflow (nothing to decide).');
            if (this.#verdict)
              throw new Error(
                `The promotion was already ${this.#verdict.approved ? 'approved' : 'rejected'} by ${this.#verdict.approver}.`,
              );
            if (input !== undefined && (typeof input !== 'object' || input === null))
              throw new Error('Expected { approver?, comment? }.');
            for (const key of ['approver', 'comment'] as const)
              if (input?.[key] !== undefined && typeof input[key] !== 'string')
                throw new Error(`Expected ${key} to be a string, got ${typeof input[key]}.`);
          },
          description: approved
            ? 'Approve the promotion this workflow waits for: the alias moves.'
            : 'Reject the promotion this workflow waits for: the alias stays.',
        },
      );
    }
  }

  /** Waits for a verdict, at most `timeoutMs`; `PendingApproval` is true meanwhile. */
  async wait(
    pending: { registeredModelName: string; version: string; alias: string },
    timeoutMs: number,
  ): Promise<Verdict | undefined> {
    this.#pending = pending;
    upsertSearchAttributes([{ key: pendingApprovalKey, value: true }]);
    try {
      await condition(() => this.#verdict !== undefined, timeoutMs);
      return this.#verdict;
    } finally {
      upsertSearchAttributes([{ key: pendingApprovalKey, value: false }]);
    }
  }

  /** Lets accepted Updates answer (the decision is in MLflow). */
  settled(): void {
    this.#recorded = true;
  }
}

export interface PromotionGateArgs {
  context: RunContext;
  model: LoggedModelRef;
  /** The run whose metric ranks the model. */
  runId: string;
  /** Without a policy the alias moves (the behaviour of `logModel.alias` alone). */
  policy?: PromotionPolicy;
  gate: ApprovalGate;
  /** Called with the decision so far: `awaiting` while a person is asked. */
  report: (decision: PromotionDecision, awaiting: boolean) => void;
  /** Settles once the run is closed: the decision is recorded (the alias moved) only then. */
  runClosed?: Promise<void>;
}

/**
 * Runs the gate for a registered version whose run closed successfully; undefined when the model
 * has no alias to move. Cancelling the workflow while it waits records `cancelled` and rethrows.
 */
export async function promote(args: PromotionGateArgs): Promise<PromotionDecision | undefined> {
  const { model, policy, context } = args;
  const alias = policy?.alias ?? model.alias;
  if (!model.registeredModelName || !model.registeredModelVersion || !alias) return undefined;
  const target = {
    registeredModelName: model.registeredModelName,
    version: model.registeredModelVersion,
    alias,
  };
  // Decided once, so a gate that evaluated without it also records without it.
  const localFirst = patched(PROMOTION_LOCAL_FIRST_PATCH);
  const step = <T>(local: () => Promise<T>, regular: () => Promise<T>): Promise<T> =>
    localFirst ? locallyFirst(local, regular) : onRightWorker(regular);
  const record = async (decision: PromotionDecision): Promise<PromotionDecision> => {
    await args.runClosed;
    args.report(decision, false);
    await CancellationScope.nonCancellable(() =>
      step(
        () => recordLocally({ context, decision }),
        () => recordPromotion({ context, decision }),
      ),
    );
    args.gate.settled();
    return decision;
  };
  if (!policy)
    return record({
      ...target,
      decision: 'promoted',
      reason: 'no promotion gate: the alias moves whenever training succeeds',
    });

  const evaluation = await step(
    () => evaluateLocally({ context, model, policy, runId: args.runId }),
    () => evaluatePromotion({ context, model, policy, runId: args.runId }),
  );
  const compared: PromotionDecision = {
    ...target,
    decision: evaluation.better ? 'promoted' : 'kept',
    reason: evaluation.reason,
    metric: policy.metric,
    ...(evaluation.candidateValue !== undefined
      ? { candidateValue: evaluation.candidateValue }
      : {}),
    ...(evaluation.championVersion !== undefined
      ? { championVersion: evaluation.championVersion }
      : {}),
    ...(evaluation.championValue !== undefined ? { championValue: evaluation.championValue } : {}),
  };
  if (!evaluation.better || !policy.requireApproval) return record(compared);

  args.report({ ...compared, reason: `awaiting approval: ${compared.reason}` }, true);
  let verdict: Verdict | undefined;
  try {
    verdict = await args.gate.wait(target, policy.approvalTimeoutMs);
  } catch (error) {
    if (isCancellation(error))
      await record({
        ...compared,
        decision: 'cancelled',
        reason: 'cancelled while awaiting approval',
      });
    throw error;
  }
  if (!verdict)
    return record({
      ...compared,
      decision: 'timed_out',
      reason: `nobody approved within ${formatMs(policy.approvalTimeoutMs)}: nothing promoted (${compared.reason})`,
    });
  return record({
    ...compared,
    decision: verdict.approved ? 'promoted' : 'rejected',
    reason: `${verdict.approved ? 'approved' : 'rejected'} by ${verdict.approver}${verdict.comment ? `: ${verdict.comment}` : ''} (${compared.reason})`,
    approver: verdict.approver,
    ...(verdict.comment ? { comment: verdict.comment } : {}),
  });
}

function formatMs(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${ms / 1000}s`;
}

/** One line for the Temporal UI's details. */
export function promotionMarkdown(decision: PromotionDecision, awaiting: boolean): string {
  const name = `\`${decision.registeredModelName}\` version ${decision.version} → @${decision.alias}`;
  return awaiting
    ? `**Awaiting approval**: ${name}. ${decision.reason} — \`temporal-mlflow approve <workflow-id>\` or \`reject\`.`
    : `Promotion: **${decision.decision}** ${name}. ${decision.reason}`;
}
