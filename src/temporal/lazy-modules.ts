/**
 * Temporal's packages, loaded on first use. Importing `@temporalio/proto` takes ~0.2 s and
 * `@temporalio/worker` ~0.45 s on a 2-core machine: a command or a project file that only defines
 * pipelines (`import { node } from 'temporal-mlflow'`) must not pay for them.
 */
import { createRequire } from 'node:module';
import type ProtoModule from '@temporalio/proto';
import type * as CommonModule from '@temporalio/common';
import type * as ActivityModule from '@temporalio/activity';
import type * as ClientModule from '@temporalio/client';

const require = createRequire(import.meta.url);

let proto: typeof ProtoModule | undefined;

/** `@temporalio/proto` (its generated messages and enums). */
export function temporalProto(): typeof ProtoModule {
  proto ??= require('@temporalio/proto') as typeof ProtoModule;
  return proto;
}

let common: typeof CommonModule | undefined;
let activity: typeof ActivityModule | undefined;

/** `@temporalio/common` (failures, payload metadata keys): 0.1-0.2 s to import on a 2-core machine. */
export function temporalCommon(): typeof CommonModule {
  common ??= require('@temporalio/common') as typeof CommonModule;
  return common;
}

/** `@temporalio/activity` (an activity's `Context`), which loads `@temporalio/common`. */
export function temporalActivity(): typeof ActivityModule {
  activity ??= require('@temporalio/activity') as typeof ActivityModule;
  return activity;
}

let client: typeof ClientModule | undefined;

/**
 * `@temporalio/client` (gRPC and the whole Temporal API: ~0.35 s on a 2-core machine): loaded when
 * a command first talks to Temporal over gRPC (`train` over Temporal's HTTP API may never).
 */
export function temporalClient(): typeof ClientModule {
  client ??= require('@temporalio/client') as typeof ClientModule;
  return client;
}
