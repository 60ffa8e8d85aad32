/**
 * A workflow interceptor for tests: every query a workflow answers is reported to the `queryLog`
 * sink of its worker (with the query's name), so a test can tell when, and whether, it was asked.
 */
import { proxySinks, type Sinks, type WorkflowInterceptorsFactory } from '@temporalio/workflow';

export interface QueryLogSinks extends Sinks {
  queryLog: { answered(queryName: string): void };
}

const { queryLog } = proxySinks<QueryLogSinks>();

export const interceptors: WorkflowInterceptorsFactory = () => ({
  inbound: [
    {
      handleQuery(input, next) {
        queryLog.answered(input.queryName);
        return next(input);
      },
    },
  ],
});
