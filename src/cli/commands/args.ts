import { UsageError } from '../../errors.ts';

/** Parses a whole decimal number given on the command line, or fails as a usage error. */
export function parseInteger(option: string, text: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`${option} takes a whole number (got "${text}")`);
  return Number(text);
}
