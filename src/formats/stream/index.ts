/** The save/restore/migration stream (schemas/stream): writer, verifying reader, image types. */
export { frozenStreamRevisions, newestStreamVersion, readableVersions, streamRevision } from './abi.ts';
export { crc32 } from './checksum.ts';
export * from './image.ts';
export { type ReadOptions, StreamReader, verifyStream } from './reader.ts';
export { encodeStream, insertRecordBeforeEnd, RECORD, streamPieces, type WriteOptions } from './writer.ts';
