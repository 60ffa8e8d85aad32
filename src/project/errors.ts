/** Base class of every error raised while finding or loading a project. */
export class ProjectError extends Error {
  override readonly name: string = 'ProjectError';
}

/** No `temporal-mlflow.config.*` file at the project root. */
export class ProjectNotFoundError extends ProjectError {
  override readonly name = 'ProjectNotFoundError';
  constructor(
    readonly projectDir: string,
    readonly lookedFor: readonly string[],
  ) {
    super(
      `No project found in ${projectDir}: expected one of ${lookedFor.join(', ')} there. ` +
        `Run the command from the project's root or pass --project <dir>.`,
    );
  }
}

/** The project file loaded but does not default-export `defineProject(...)`, or it is invalid. */
export class InvalidProjectError extends ProjectError {
  override readonly name = 'InvalidProjectError';
  constructor(
    readonly file: string,
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(`Invalid project in ${file}: ${problem}`, options);
  }
}

/** `--pipeline <name>` names no registered pipeline. */
export class PipelineNotFoundError extends ProjectError {
  override readonly name = 'PipelineNotFoundError';
  constructor(
    readonly pipelineName: string,
    readonly available: readonly string[],
    readonly suggestion?: string,
  ) {
    super(
      `Pipeline '${pipelineName}' is not registered; registered pipelines: ${[...available].sort().join(', ') || '(none)'}.` +
        (suggestion ? ` Did you mean '${suggestion}'?` : ''),
    );
  }
}
