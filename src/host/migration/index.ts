/** Save, restore and live migration of micro-VMs through the stream ABI (schemas/stream). */
export { type Captured, type CaptureOptions, captureDomain } from './capture.ts';
export { type Endpoint, parseEndpoint } from './endpoint.ts';
export type { PoolStreamHooks } from './hooks.ts';
export { registerStreamCalls, STREAM_CALL, type StreamInstallOptions, streamInstaller } from './install.ts';
export {
  type MigrateOptions,
  type MigrateResult,
  MigrationError,
  MigrationOutcomeUnknownError,
  migrate,
} from './migrate.ts';
export {
  listenForStreams,
  listenLocalStreams,
  type ReceiverOptions,
  type StreamListener,
  streamSocketPath,
} from './receiver.ts';
export {
  type RestoreOptions,
  type RestoreResult,
  readStreamFile,
  restoreDomain,
  restoreImage,
  type SaveOptions,
  type SaveResult,
  saveDomain,
} from './save-restore.ts';
