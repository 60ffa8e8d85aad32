import type { BundleOptions, WorkerOptions } from '@temporalio/worker';

type WebpackConfigHook = NonNullable<BundleOptions['webpackConfigHook']>;
type WebpackConfig = Parameters<WebpackConfigHook>[0];

/**
 * Temporal's workflow bundler transpiles TypeScript everywhere but in `node_modules`; this package
 * ships its workflows as TypeScript, so an installed copy must be transpiled too.
 */
export function transpileThisPackage(config: WebpackConfig): WebpackConfig {
  for (const rule of config.module?.rules ?? []) {
    if (
      rule &&
      typeof rule === 'object' &&
      rule.test instanceof RegExp &&
      rule.test.source === '\\.ts$'
    ) {
      rule.exclude = /node_modules[\\/](?!temporal-mlflow[\\/])/;
    }
  }
  return config;
}

/** A webpack hook running the user's hook (if any) after ours. */
export function withTranspiledPackage(userHook: WebpackConfigHook | undefined): WebpackConfigHook {
  return (config) =>
    userHook ? userHook(transpileThisPackage(config)) : transpileThisPackage(config);
}

/** Worker options whose workflow bundle can include this package's TypeScript workflows. */
export function withWorkflowBundler<T extends Pick<WorkerOptions, 'bundlerOptions'>>(
  options: T,
): T {
  return {
    ...options,
    bundlerOptions: {
      ...options.bundlerOptions,
      webpackConfigHook: withTranspiledPackage(options.bundlerOptions?.webpackConfigHook),
    },
  };
}
