/**
 * Temporal's packages, loaded on first use. Importing `@temporalio/proto` takes ~0.2 s and
 * `@temporalio/worker` ~0.45 s on a 2-core machine: a command or a project file that only defines
 * pipelines (`import { node } from 'temporal-mlflow'`) must not pay for them.
 */
import { createRequire } from 'node:module';
import type ProtoModule from '@temporalio/proto';

const require = createRequire(import.meta.url);

let proto: typeof ProtoModule | undefined;

/** `@temporalio/proto` (its generated messages and enums). */
export function temporalProto(): typeof ProtoModule {
  proto ??= require('@temporalio/proto') as typeof ProtoModule;
  return proto;
}
