import type { Command } from 'commander';
import { userInfo } from 'node:os';
import {
  approvePromotion,
  listPendingApprovals,
  rejectPromotion,
} from '../../temporal/approvals.js';
import {
  addConnectionOptions,
  withTemporalClient,
  type ConnectionCommandOptions,
} from '../connection.js';

interface ApproveOptions extends ConnectionCommandOptions {
  comment?: string;
  approver?: string;
}

function defaultApprover(): string {
  try {
    return process.env.TEMPORAL_MLFLOW_APPROVER ?? userInfo().username;
  } catch {
    return 'unknown';
  }
}

/** `approve`, `reject` and `approvals`: answer the promotion gates that wait for a person. */
export function registerApprovalCommands(program: Command): void {
  for (const verb of ['approve', 'reject'] as const) {
    addConnectionOptions(program.command(`${verb} <workflow-id>`))
      .description(
        verb === 'approve'
          ? 'approve the promotion a training or sweep waits for: the alias moves'
          : 'reject the promotion a training or sweep waits for: the alias stays',
      )
      .option('--comment <text>', 'why (recorded on the model version in MLflow)')
      .option('--approver <name>', 'who decides (env TEMPORAL_MLFLOW_APPROVER; default: your user)')
      .action(async (workflowId: string, options: ApproveOptions) => {
        await withTemporalClient(options, async (client) => {
          const input = {
            approver: options.approver ?? defaultApprover(),
            ...(options.comment ? { comment: options.comment } : {}),
          };
          const answer =
            verb === 'approve'
              ? await approvePromotion(client, workflowId, input)
              : await rejectPromotion(client, workflowId, input);
          console.log(
            `${answer.decision === 'approved' ? 'Approved' : 'Rejected'}: ${answer.registeredModelName} version ${answer.version} ` +
              `${answer.decision === 'approved' ? `is now @${answer.alias}` : `stays off @${answer.alias}`}.`,
          );
        });
      });
  }

  addConnectionOptions(program.command('approvals'))
    .description('list trainings and sweeps waiting for a promotion approval')
    .action(async (options: ConnectionCommandOptions) => {
      await withTemporalClient(options, async (client) => {
        const pending = await listPendingApprovals(client);
        if (pending.length === 0) return console.log('No promotion awaits approval.');
        for (const item of pending)
          console.log(
            `${item.workflowId}\t${item.pipeline ?? '-'}\tsince ${item.startTime.toISOString()}` +
              (item.promotion
                ? `\t${item.promotion.registeredModelName} v${item.promotion.version} → @${item.promotion.alias}: ${item.promotion.reason}`
                : ''),
          );
      });
    });
}
