/**
 * Worker thread of AnalystFilesBuilder: `start` begins the files of one export in a Parquet
 * layout, then it receives analyst rows in batches, writes each batch's CSV lines and encodes each
 * Parquet row group once its rows are in. On `end` it posts decisions.csv and decisions.parquet
 * back, moving their buffers instead of copying them, and waits for the next export. It imports
 * only the encoders, so it starts quickly.
 */
import { parentPort } from 'node:worker_threads';
import { AnalystFilesEncoder, type AnalystLayout } from './analyst-encoding.js';
import type { AnalystWorkerMessage } from './analyst-formats.js';

let encoder: AnalystFilesEncoder | undefined;

/** Returns the encoder of the export in progress. A message out of order ends the worker with an error. */
function current(): AnalystFilesEncoder {
  if (encoder === undefined) throw new Error('the analyst file worker received rows or end before start');
  return encoder;
}

parentPort?.on('message', (message: AnalystWorkerMessage) => {
  if (message.type === 'start') {
    encoder = new AnalystFilesEncoder(message.layout as AnalystLayout);
  } else if (message.type === 'rows') {
    current().add(message.batch);
  } else {
    const files = current().finish();
    encoder = undefined;
    parentPort?.postMessage(files, [files.csv.buffer as ArrayBuffer, files.parquet.buffer as ArrayBuffer]);
  }
});
