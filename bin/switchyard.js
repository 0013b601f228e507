#!/usr/bin/env node
// Launcher for the `switchyard` command: the CLI is TypeScript that Node ≥ 22.18 runs directly.
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  console.error(
    `switchyard needs Node >= 22.18 (this is ${process.version}); run it through npm (npx switchyard), which uses the pinned Node 24.`,
  );
  process.exit(1);
}
await import('../src/cli.ts');
