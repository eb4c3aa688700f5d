/** The CLI's failures: each is reported as one line (`watchy <command>: <message>`) with an exit code. */

/** A failure the CLI reports as one line (`watchy <command>: <message>`) and exit code `exitCode`. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** A usage problem: exit code 2. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, 2);
  }
}
