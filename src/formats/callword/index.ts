export * from './abi.ts';
export * from './constants.ts';
export * from './frame.ts';
export * from './values.ts';
export * from './word.ts';
