/** One `watchy` subcommand. Each lives in `cli/commands/<name>.ts` and exports `command`. */
export interface Command {
  readonly name: string;
  /** One line for `watchy --help`. */
  readonly summary: string;
  /** Full usage text for `watchy <name> --help`. */
  readonly usage: string;
  /** Returns the process exit code; throws CliError for a one-line failure. */
  run(args: string[]): Promise<number>;
}
