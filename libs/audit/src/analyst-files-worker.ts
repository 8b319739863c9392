/**
 * Worker thread of AnalystFilesBuilder: receives analyst rows in batches, writes each batch's CSV
 * lines and encodes each Parquet row group once its rows are in. On `end` it posts
 * decisions.csv and decisions.parquet back, moving their buffers instead of copying them. It
 * imports only the encoders, so it starts quickly. workerData is the Parquet layout.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { AnalystFilesEncoder, type ParquetLayout } from './analyst-encoding.js';
import type { AnalystWorkerMessage } from './analyst-formats.js';

const encoder = new AnalystFilesEncoder(workerData as ParquetLayout);

parentPort?.on('message', (message: AnalystWorkerMessage) => {
  if (message.type === 'rows') {
    encoder.add(message.batch);
    return;
  }
  const files = encoder.finish();
  parentPort?.postMessage(files, [files.csv.buffer as ArrayBuffer, files.parquet.buffer as ArrayBuffer]);
});
