#!/usr/bin/env node
// Entry point: the CLI is written in TypeScript and run through tsx's loader,
// so nothing has to be compiled before `npx hvkit` works.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv);
