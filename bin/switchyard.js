#!/usr/bin/env node
// Launcher for the `switchyard` command. An installed package runs the compiled CLI in dist/; a checkout of the
// repository (src/ present) runs the TypeScript source directly, so it never runs a stale build.
import { existsSync } from 'node:fs';

const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 19)) {
  console.error(
    `switchyard needs Node >= 22.19 (this is ${process.version}); in a checkout, run it through npm (npx switchyard), which uses the pinned Node 24.`,
  );
  process.exit(1);
}
const source = new URL('../src/cli.ts', import.meta.url);
await import(existsSync(source) ? source.href : new URL('../dist/cli.js', import.meta.url).href);
