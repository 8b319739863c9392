/**
 * Worker thread of buildAnalystFiles: renders decisions.csv and decisions.parquet from the analyst
 * rows it receives as workerData and posts both files back.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { renderAnalystFiles, type AnalystRow } from './analyst-formats.js';

parentPort?.postMessage(renderAnalystFiles(workerData as AnalystRow[]));
