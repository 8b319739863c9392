import { Writable } from 'node:stream';
import { createRootLogger } from '../../libs/common/src/logger.js';

/**
 * Every JSON log line this process writes, for tests that check what reaches the logs. The root
 * logger keeps the destination of its first creation, so a test file imports this module before
 * any module that calls getLogger (load those with dynamic imports after it).
 */
export const logLines: string[] = [];

const sink = new Writable({
  write(chunk: Buffer | string, _encoding, callback) {
    logLines.push(...chunk.toString().split('\n').filter((line) => line.length > 0));
    callback();
  },
});
createRootLogger('debug', sink);
