/**
 * What `authtrail` exits with; scripts branch on these. BSD sysexits for the last three (sysexits.h).
 */
export const EXIT = {
  ok: 0,
  /** A check found a problem: a broken chain, diverging copies, dead letters still failing. */
  checkFailed: 1,
  /** Bad or unknown arguments, or an argument that names nothing (an unknown tenant or user). */
  usage: 2,
  /** The change was refused: the slug or identifier is taken, an operator exists, downloads are not in the plan. */
  refused: 3,
  /** The database (or another service the command needs) could not be reached (EX_UNAVAILABLE). */
  unavailable: 69,
  /** The embedded database's directory is in use by another process, `npm start` say (EX_TEMPFAIL, as the service). */
  locked: 75,
  /** Something unexpected; the message says what (EX_SOFTWARE). */
  internal: 70,
  /** The environment is invalid: the message names the variable (EX_CONFIG). */
  config: 78,
} as const

export type ExitCode = (typeof EXIT)[keyof typeof EXIT]

/** An expected way for a command to end early: its message is printed as is and the process exits with `exitCode`. */
export class CommandError extends Error {
  override name = 'CommandError'
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message)
  }
}

/** A bad argument, or one that names nothing: exit 2 with the message (and the command's usage). */
export function usageError(message: string): CommandError {
  return new CommandError(message, EXIT.usage)
}

/** A change the rules refuse: exit 3. */
export function refused(message: string): CommandError {
  return new CommandError(message, EXIT.refused)
}
