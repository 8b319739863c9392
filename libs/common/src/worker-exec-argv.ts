/** The option that sets the module type of source given with -e, -p or on stdin, in its two spellings. */
const INPUT_TYPE_FLAG = '--input-type';
const INPUT_TYPE_PREFIX = '--input-type=';

/**
 * Returns the `execArgv` option for a new worker thread: undefined, so that the worker inherits
 * this process's options as usual, unless the process was started with `--input-type`. Node.js
 * (checked on 24.21) refuses to start a worker from a module file under `--input-type`
 * (ERR_INPUT_TYPE_NOT_ALLOWED), so such a process gets an empty list, and its other options, such
 * as `--import`, do not reach its workers. A worker inherits `-e`, `--eval`, `-p` and `--print`
 * without harm, so those alone keep every option. Options are not filtered one by one because an
 * explicit list that contains a V8 or per-process option, such as `--max-old-space-size`, fails
 * with ERR_WORKER_INVALID_EXEC_ARGV, while an inherited one is ignored.
 *
 * NOTE: a worker also reads NODE_OPTIONS from its environment, so `--input-type` set there still
 * stops workers. Such a process can only run -e, -p or stdin source, because its main script file
 * fails the same way.
 */
export function workerExecArgv(execArgv: readonly string[] = process.execArgv): string[] | undefined {
  const setsInputType = execArgv.some((arg) => arg === INPUT_TYPE_FLAG || arg.startsWith(INPUT_TYPE_PREFIX));
  return setsInputType ? [] : undefined;
}
