/** The call-batch ABI: constants, header/entry codec and the host's header checks. */
export * from './codec.ts';
export * from './constants.ts';
