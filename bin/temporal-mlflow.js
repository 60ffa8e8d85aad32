#!/usr/bin/env node
// The CLI runs the TypeScript sources directly (tsx), so a project needs no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
await main(process.argv);
