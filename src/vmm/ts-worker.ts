/**
 * Starts a worker thread running a TypeScript module. Node 20 does not pass the tsx loader given
 * with --import on to workers, so the worker boots from a small CommonJS script that loads the
 * module through tsx's own API; a failure to load surfaces as the worker's 'error' event.
 */
import { Worker } from 'node:worker_threads';

const tsxApi = import.meta.resolve('tsx/esm/api');

const BOOT = `
const { workerData } = require('node:worker_threads');
import(workerData.__tsxApi).then((api) => api.tsImport(workerData.__script, workerData.__script)).catch((e) => {
  setImmediate(() => { throw e; });
});
`;

export function startTsWorker(script: URL, data: Record<string, unknown>, name?: string): Worker {
  return new Worker(BOOT, {
    eval: true,
    workerData: { ...data, __tsxApi: tsxApi, __script: script.href },
    ...(name ? { name } : {}),
  });
}
