/** The domain directory (DESIGN §3): public entry points. */
export { currentDomainDirectoryAbi, domainDirectoryRevision, shippedDomainDirectoryAbi } from './abi.ts';
export {
  checkDomainDirectory,
  compareDirectories,
  type DirectoryCheckOptions,
  type DirectoryCheckResult,
} from './checker.ts';
export { type DirectoryLayout, type DirectoryPlanOptions, entryOffset, validateLayout } from './layout.ts';
export { type DirectoryModel, directoryModel } from './model.ts';
export { type DirectoryEntry, type DirectoryReaderOptions, DomainDirectoryReader } from './reader.ts';
export type { DirectoryState } from './states.ts';
export { type DirectoryCreateOptions, DomainDirectoryWriter, type EntryUpdate } from './writer.ts';
