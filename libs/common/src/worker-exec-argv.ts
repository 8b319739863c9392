/** Flags that name where the main script's source comes from: code on the command line, or its module type. */
const SOURCE_FLAGS = new Set(['-e', '--eval', '-p', '--print', '-pe', '-ep', '--input-type']);
/** Prefixes of the same flags written with `=`. */
const SOURCE_FLAG_PREFIXES = ['--eval=', '--print=', '--input-type='];

/**
 * Returns the `execArgv` option for a new worker thread: undefined, so that the worker inherits
 * this process's options as usual, unless the process was started with its source on the command
 * line (`-e`, `--eval`, `-p`, `--print`, `--input-type`). Node.js refuses to start a worker from a
 * module file under `--input-type`, so such a process gets an empty list, and its other options
 * do not reach its workers. Options are not filtered one by one because an explicit list that
 * contains a V8 or per-process option, such as `--max-old-space-size`, fails with
 * ERR_WORKER_INVALID_EXEC_ARGV, while an inherited one is ignored.
 */
export function workerExecArgv(execArgv: readonly string[] = process.execArgv): string[] | undefined {
  const fromCommandLine = execArgv.some((arg) => SOURCE_FLAGS.has(arg) || SOURCE_FLAG_PREFIXES.some((prefix) => arg.startsWith(prefix)));
  return fromCommandLine ? [] : undefined;
}
