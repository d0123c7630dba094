export * from './abi.ts';
export * from './bitset.ts';
export * from './constants.ts';
export * from './frame.ts';
export * from './pool.ts';
export * from './values.ts';
export * from './word.ts';
