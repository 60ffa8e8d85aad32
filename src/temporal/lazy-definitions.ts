/**
 * The queries, updates and search attribute keys clients share with workflows, loaded on first
 * use: workflows/definitions.ts loads `@temporalio/common`, which defining or running a pipeline
 * locally never needs (~0.1-0.2 s of every CLI command that imports the package).
 */
import type * as Definitions from '../../workflows/definitions.js';

export const workflowDefinitions = (): Promise<typeof Definitions> =>
  import('../../workflows/definitions.js');
