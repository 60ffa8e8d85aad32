/** Options of a training or batch run that cannot work together; the message names the fields. */
export class TrainingOptionsError extends Error {
  override readonly name = 'TrainingOptionsError';
}

/** Worker options that cannot work (createWorker / the worker plugin); the message names the option. */
export class WorkerOptionsError extends Error {
  override readonly name = 'WorkerOptionsError';
}
