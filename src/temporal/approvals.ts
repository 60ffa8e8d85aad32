/**
 * Answering promotion gates from a client: `approve` / `reject` Updates, and the list of
 * workflows waiting for one (the `PendingApproval` search attribute).
 */
import type { Client, WorkflowUpdateFailedError } from '@temporalio/client';
import { workflowDefinitions } from './lazy-definitions.js';
import { SEARCH_ATTRIBUTE_PENDING_APPROVAL } from '../constants.js';
import type { ApprovalAnswer, ApprovalInput, PromotionDecision } from './types.js';

/** The workflow refused the Update (no approval pending, decided already, bad input). */
export class ApprovalRefusedError extends Error {
  override readonly name = 'ApprovalRefusedError';
  constructor(
    readonly workflowId: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`Workflow ${workflowId} refused: ${reason}`, options);
  }
}

async function send(
  client: Client,
  workflowId: string,
  approved: boolean,
  input: ApprovalInput,
): Promise<ApprovalAnswer> {
  const { approveUpdate, rejectUpdate } = await workflowDefinitions();
  try {
    return await client.workflow
      .getHandle(workflowId)
      .executeUpdate(approved ? approveUpdate : rejectUpdate, { args: [input] });
  } catch (error) {
    // Told by name: the class would load @temporalio/client with every import of this package.
    if (error instanceof Error && error.name === 'WorkflowUpdateFailedError') {
      const refused = error as WorkflowUpdateFailedError;
      throw new ApprovalRefusedError(workflowId, refused.cause?.message ?? refused.message, {
        cause: error,
      });
    }
    throw error;
  }
}

/** Approves the promotion a workflow waits for; resolves once the alias has moved. */
export function approvePromotion(
  client: Client,
  workflowId: string,
  input: ApprovalInput = {},
): Promise<ApprovalAnswer> {
  return send(client, workflowId, true, input);
}

/** Rejects the promotion a workflow waits for; resolves once the rejection is recorded. */
export function rejectPromotion(
  client: Client,
  workflowId: string,
  input: ApprovalInput = {},
): Promise<ApprovalAnswer> {
  return send(client, workflowId, false, input);
}

export interface PendingApproval {
  workflowId: string;
  workflowType: string;
  pipeline?: string;
  startTime: Date;
  /** What waits (from the workflow's progress query; absent when no worker answers). */
  promotion?: PromotionDecision;
}

/** Running workflows whose promotion awaits approval (search attribute `PendingApproval = true`). */
export async function listPendingApprovals(
  client: Client,
  options: { withDetails?: boolean } = {},
): Promise<PendingApproval[]> {
  const found: PendingApproval[] = [];
  const query = `${SEARCH_ATTRIBUTE_PENDING_APPROVAL} = true AND ExecutionStatus = 'Running'`;
  const { pipelineNameKey, progressQuery } = await workflowDefinitions();
  for await (const execution of client.workflow.list({ query })) {
    const pipeline = execution.typedSearchAttributes.get(pipelineNameKey);
    let promotion: PromotionDecision | undefined;
    if (options.withDetails !== false) {
      promotion = await client.workflow
        .getHandle(execution.workflowId)
        .query(progressQuery)
        .then((progress) => progress.promotion)
        .catch(() => undefined);
    }
    found.push({
      workflowId: execution.workflowId,
      workflowType: execution.type,
      ...(pipeline ? { pipeline } : {}),
      startTime: execution.startTime,
      ...(promotion ? { promotion } : {}),
    });
  }
  return found;
}
