import type { Client } from '@temporalio/client';
import { temporalProto } from './lazy-modules.js';

/** One worker polling a task queue, as Temporal's DescribeTaskQueue reports it. */
export interface QueuePoller {
  identity: string;
  lastAccessTime?: Date;
}

/**
 * The workers polling a task queue for workflow tasks (DescribeTaskQueue): none means a run started
 * there waits until a worker comes, so callers can say so instead of waiting silently.
 */
export async function queuePollers(client: Client, taskQueue: string): Promise<QueuePoller[]> {
  const { TaskQueueKind, TaskQueueType } = temporalProto().temporal.api.enums.v1;
  const response = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    taskQueue: { name: taskQueue, kind: TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType: TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
  });
  return (response.pollers ?? []).map((poller) => ({
    identity: poller.identity ?? '',
    ...(poller.lastAccessTime?.seconds
      ? { lastAccessTime: new Date(Number(poller.lastAccessTime.seconds) * 1000) }
      : {}),
  }));
}
