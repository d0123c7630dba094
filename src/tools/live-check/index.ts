/** `hvkit check --attach | --all [--watch]`: live invariant checks of every VM's stats. */
export * from './live-checker.ts';
export * from './subjects.ts';
export * from './text.ts';
