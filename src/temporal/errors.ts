/** Options of a training or batch run that cannot work together; the message names the fields. */
export class TrainingOptionsError extends Error {
  override readonly name = 'TrainingOptionsError';
}
