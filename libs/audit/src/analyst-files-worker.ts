/**
 * Worker thread of AnalystFilesBuilder: receives analyst rows in batches, turns each batch into CSV
 * lines and encodes each Parquet row group once its rows are in. On `end` it posts
 * decisions.csv and decisions.parquet back, moving their buffers instead of copying them. It
 * imports only the encoders, so it starts quickly. workerData is the Parquet layout.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { AnalystParquetWriter, csvHeaderLine, csvLines, type ParquetLayout } from './analyst-encoding.js';
import type { AnalystFiles, AnalystWorkerMessage } from './analyst-formats.js';

const parquet = new AnalystParquetWriter(workerData as ParquetLayout);
const csvParts = [csvHeaderLine()];

parentPort?.on('message', (message: AnalystWorkerMessage) => {
  if (message.type === 'rows') {
    parquet.add(message.columns);
    csvParts.push(csvLines(message.columns));
    return;
  }
  const files: AnalystFiles = { csv: new TextEncoder().encode(csvParts.join('')), parquet: parquet.finish() };
  parentPort?.postMessage(files, [files.csv.buffer as ArrayBuffer, files.parquet.buffer as ArrayBuffer]);
});
