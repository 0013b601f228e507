// The package as an embedder gets it: `npm pack` (which builds dist/), the tarball installed into a fresh
// project in a temp dir, then used from there — never `../src`. One pack and two installs (with and without dev
// dependencies, in parallel) serve every case. The snippets of docs/embedding.md are run from that project.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MockUpstream, startMockUpstream } from '../../src/mock/server.ts';
import { codeBlocks } from './markdown.ts';

const exec = promisify(execFile);
const repo = new URL('../..', import.meta.url).pathname;
const manifest = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  engines: { node: string };
};
const node = process.execPath;
// npm and the installed bin's `#!/usr/bin/env node` must find this Node (the pinned 24), and must not inherit
// the npm_* settings of the `npm test` that runs us (they would point npm back at the repo).
const env: NodeJS.ProcessEnv = {
  ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith('npm_') || key === 'npm_config_cache')),
  PATH: `${dirname(node)}:${process.env.PATH ?? ''}`,
  NODE_OPTIONS: '',
};

// The lowest version in engines ("^22.19.0 || …"), which the package must run on.
const oldestNode = /\d+\.\d+\.\d+/.exec(manifest.engines.node)?.[0] ?? '';
let work = '';
let full = ''; // consumer with its dev dependencies (TypeScript, @types/node)
let prod = ''; // consumer installed with --omit=dev
let tarball = '';
let mock: MockUpstream;
const children: ChildProcess[] = [];

async function run(command: string, args: string[], cwd: string, extra: NodeJS.ProcessEnv = {}) {
  try {
    return await exec(command, args, { cwd, env: { ...env, ...extra }, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const { stdout, stderr } = err as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}:\n${stdout ?? ''}\n${stderr ?? ''}`, { cause: err });
  }
}

function consumer(name: string, devDependencies: Record<string, string>): string {
  const dir = join(work, name);
  mkdirSync(dir);
  const pkg = {
    name,
    private: true,
    type: 'module',
    // fastify is the consumer's own app framework, at the range Switchyard uses.
    dependencies: { switchyard: `file:${tarball}`, fastify: manifest.dependencies.fastify },
    devDependencies,
    // The `node` package puts its binary in place from an install script.
    allowScripts: { node: true },
  };
  writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg, null, 2));
  return dir;
}

const install = (dir: string, ...flags: string[]) =>
  run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...flags], dir);

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'switchyard-consumer-'));
  mkdirSync(join(work, 'pack'));
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', join(work, 'pack')], repo);
  const [packed] = JSON.parse(stdout.slice(stdout.indexOf('['))) as { filename: string }[];
  if (!packed) throw new Error(`npm pack printed no tarball: ${stdout}`);
  tarball = join(work, 'pack', packed.filename);
  full = consumer('full', {
    typescript: manifest.devDependencies.typescript ?? '',
    '@types/node': manifest.devDependencies['@types/node'] ?? '',
    // The oldest Node that package.json's engines admits, from npm like the repo's pinned 24.
    node: oldestNode,
  });
  prod = consumer('prod', {});
  await Promise.all([install(full), install(prod, '--omit=dev')]);
  // Two small programs that cases below run on more than one Node.
  writeFileSync(
    join(full, 'chat.mjs'),
    `import { createRuntime } from 'switchyard';
const runtime = createRuntime({ providers: [{ id: 'mock', baseURL: process.argv[2], models: { chat: 'mock-model' } }] });
const { completion, route } = await runtime.chat({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
console.log(JSON.stringify({ content: completion.choices[0].message.content, route: route.deployments, node: process.version }));
await runtime.stop();
`,
  );
  writeFileSync(
    join(full, 'require.cjs'),
    `const { createRuntime, SwitchyardError } = require('switchyard');
const { switchyardPlugin } = require('switchyard/server');
console.log([typeof createRuntime, typeof SwitchyardError, typeof switchyardPlugin].join(' '));
`,
  );

  mock = await startMockUpstream();
}, 240_000);

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await mock?.close();
  // Two installed projects are thousands of files: removing them takes a while on a busy machine.
  if (work) await rm(work, { recursive: true, force: true });
}, 120_000);

// Generous: each case starts Node or tsc in the consumer, and CI machines are shared.
describe('the npm package, installed from its tarball', { timeout: 60_000 }, () => {
  it('ships the build, the bin, the docs, the example config, README and LICENSE, and nothing else', async () => {
    const { stdout } = await run('tar', ['-tzf', tarball], work);
    const files = stdout.trim().split('\n');
    const top = new Set(files.map((f) => f.replace(/^package\//, '').split('/')[0]));
    expect([...top].sort()).toEqual(['LICENSE', 'README.md', 'bin', 'dist', 'docs', 'examples', 'package.json', 'switchyard.schema.json']);
    expect(files.filter((f) => f.startsWith('package/examples/')).sort()).toEqual([
      'package/examples/config/switchyard.json',
      'package/examples/config/switchyard.yaml',
    ]);
    expect(files.filter((f) => /\.(png|tgz|test\.ts)$|\/src\//.test(f))).toEqual([]);
    expect(files).toContain('package/dist/index.d.ts');
    expect(files).toContain('package/dist/server/index.js.map');
    // Every doc the README links is in the package.
    const readme = readFileSync(join(repo, 'README.md'), 'utf8');
    for (const [, doc] of readme.matchAll(/\]\((docs\/[^)#]+\.md)/g)) expect(files).toContain(`package/${doc}`);
  });

  it('(a) is imported as an ES module and answers a chat through createRuntime against the mock upstream', async () => {
    const { stdout } = await run(node, ['chat.mjs', mock.url], full);
    const result = JSON.parse(stdout) as { content: string; route: string[]; node: string };
    expect(result.route).toEqual(['mock/mock-model']);
    expect(result.content.length).toBeGreaterThan(0);
    expect(result.node).toMatch(/^v24\./);
  });

  it('runs on the oldest Node that engines admits: ESM import, a chat, and require()', async () => {
    const oldest = join(full, 'node_modules/.bin/node');
    const { stdout } = await run(oldest, ['chat.mjs', mock.url], full);
    const result = JSON.parse(stdout) as { route: string[]; node: string };
    expect(result).toEqual(expect.objectContaining({ route: ['mock/mock-model'], node: `v${oldestNode}` }));
    expect((await run(oldest, ['require.cjs'], full)).stdout.trim()).toBe('function function function');
  });

  it('is loaded with require() too, through require(esm)', async () => {
    const { stdout } = await run(node, ['require.cjs'], full);
    expect(stdout.trim()).toBe('function function function');
  });

  it('(b) type-checks a strict TypeScript consumer, docs snippets included, and a wrong call is a type error', async () => {
    const page = readFileSync(join(repo, 'docs/embedding.md'), 'utf8');
    // The page's install step is what beforeAll did, with the packed tarball standing in for the registry.
    expect(page).toContain('```sh\nnpm install switchyard\n```');
    const snippets = codeBlocks(page);
    expect(snippets.map((s) => s.name)).toEqual(['runtime.ts', 'server.ts']);
    for (const s of snippets) writeFileSync(join(full, s.name), s.code);
    writeFileSync(join(full, 'types.ts'), typesProbe);
    writeFileSync(
      join(full, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'es2024',
          lib: ['es2024'],
          module: 'nodenext',
          types: ['node'],
          strict: true,
          noUncheckedIndexedAccess: true,
          verbatimModuleSyntax: true,
          erasableSyntaxOnly: true,
          noEmit: true,
          // Our declarations are checked too, not only used.
          skipLibCheck: false,
        },
        include: ['*.ts'],
      }),
    );
    await run(node, [join(full, 'node_modules/typescript/bin/tsc'), '-p', '.'], full);
  });

  it('runs the runtime snippet of docs/embedding.md', async () => {
    const { stdout } = await run(node, ['runtime.ts'], full, {
      OPENAI_BASE_URL: mock.url,
      OPENAI_API_KEY: 'sk-test',
      LOCAL_BASE_URL: mock.url,
    });
    expect(stdout).toMatch(/— served by openai\/gpt-4o-mini\n/);
    expect(stdout).toContain('finish: stop');
    expect(stdout).toMatch(/conversation \S+: 2 messages/);
    expect(stdout).toContain("'openai/gpt-4o-mini: healthy'");
    expect(existsSync(join(full, 'conversations.db'))).toBe(true);
  });

  it('(d) serves chat under a prefix in the consumer’s own fastify app, keeps its routes, and shuts down on SIGTERM', async () => {
    const child = spawn(node, ['server.ts'], {
      cwd: full,
      env: { ...env, LOCAL_BASE_URL: mock.url, PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    // The first line, or the exit of a snippet that failed to start (then stderr says why).
    const first = await Promise.race([once(child.stdout, 'data'), once(child, 'exit')]);
    const url = /listening on (\S+)/.exec(String(first[0]))?.[1];
    expect(url, stderr).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const chat = await fetch(`${url}/llm/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(chat.status).toBe(200);
    expect(((await chat.json()) as { object: string }).object).toBe('chat.completion');
    expect(await (await fetch(`${url}/status`)).json()).toEqual({ app: 'mine', providers: 1 });
    expect((await fetch(`${url}/v1/chat/completions`, { method: 'POST' })).status).toBe(404);
    // The inspector under the prefix too: its statecharts are laid out by elkjs, loaded from the install.
    const machines = await fetch(`${url}/llm/inspect/machines`);
    expect(machines.status).toBe(200);
    expect(Object.keys((await machines.json()) as object)).toContain('provider');
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    // Exiting on its own after the handler ran means nothing (sockets, timers, actors) was left open.
    expect({ code, stdout, stderr }).toMatchObject({ code: 0, stderr: '' });
    expect(stdout).toContain('SIGTERM: draining\nstopped');
  });

  it('(c) a production install (--omit=dev) runs a chat with a SQLite store and the server entry', async () => {
    expect(existsSync(join(prod, 'node_modules/typescript'))).toBe(false);
    writeFileSync(
      join(prod, 'main.mjs'),
      `import { createRuntime } from 'switchyard';
import { buildServer } from 'switchyard/server';
const runtime = createRuntime({ providers: [{ id: 'mock', baseURL: process.argv[2], models: { chat: 'mock-model' } }] }, { store: 'sqlite:./prod.db' });
const app = buildServer(runtime);
const res = await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: { model: 'chat', messages: [{ role: 'user', content: 'hi' }] } });
const { id } = await runtime.conversations.create({ model: 'chat' });
const turn = await runtime.conversations.post(id, 'hello');
console.log(res.statusCode, typeof turn.content);
await app.close();
await runtime.stop();
`,
    );
    const { stdout } = await run(node, ['main.mjs', mock.url], prod);
    expect(stdout.trim()).toBe('200 string');
  });

  it('loads no fastify, no Stately inspector and no SQLite when the runtime is imported', async () => {
    writeFileSync(
      join(prod, 'imports.mjs'),
      `import { registerHooks } from 'node:module';
const loaded = new Set();
registerHooks({
  resolve(specifier, context, next) {
    const result = next(specifier, context);
    const match = /\\/node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(result.url);
    loaded.add(match ? match[1] : result.url);
    return result;
  },
});
await import('switchyard');
console.log([...loaded].join('\\n'));
`,
    );
    const loaded = (await run(node, ['imports.mjs'], prod)).stdout.trim().split('\n');
    expect(loaded).toContain('switchyard');
    expect(loaded).toContain('undici');
    expect(loaded.filter((p) => /fastify|pino|prom-client|@statelyai|node:sqlite/.test(p))).toEqual([]);
  });

  it('(e) the installed `switchyard --help` runs the compiled CLI, and the shipped example config passes its check', async () => {
    const pkg = join(prod, 'node_modules/switchyard');
    expect(existsSync(join(pkg, 'src'))).toBe(false);
    const bin = join(prod, 'node_modules/.bin/switchyard');
    const { stdout } = await run(bin, ['--help'], prod);
    expect(stdout).toContain('switchyard serve --config F');
    expect(stdout).toContain('examples/config/switchyard.yaml');
    expect(stdout).toContain('docs/configuration.md');
    for (const ext of ['yaml', 'json']) {
      const example = join(pkg, `examples/config/switchyard.${ext}`);
      expect((await run(bin, ['config', 'check', example], prod)).stdout).toContain(`${example}: ok`);
    }
  });
});

// Compiled by the strict consumer above: real types make each line marked ts-expect-error an error, and an
// unused marker is itself an error, so declarations that degraded to `any` would fail this check.
const typesProbe = `import { createRuntime, isSwitchyardError, SwitchyardError, type ChatResult, type SwitchyardConfigInput } from 'switchyard';
import { switchyardPlugin, type PluginOptions } from 'switchyard/server';

const config: SwitchyardConfigInput = { providers: [{ id: 'p', baseURL: 'http://127.0.0.1:8000/v1', models: { chat: 'm' } }] };
// @ts-expect-error: a strategy that does not exist
const wrong: SwitchyardConfigInput = { ...config, routing: { strategy: 'fastest' } };
// @ts-expect-error: a provider needs a baseURL
createRuntime({ providers: [{ id: 'p', models: { chat: 'm' } }] });

export async function probe(): Promise<number> {
  const runtime = createRuntime(config);
  const result: ChatResult = await runtime.chat({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
  // @ts-expect-error: attempts is an array, not a number
  const attempts: number = result.route.attempts;
  // @ts-expect-error: switchyard/server is the only other entry point
  await import('switchyard/dist/runtime.js');
  const options: PluginOptions = { runtime, inspector: false };
  try {
    await runtime.chat({ model: 'chat', messages: [] });
  } catch (err) {
    if (isSwitchyardError(err) && err instanceof SwitchyardError) return err.code.length;
  }
  return [wrong, attempts, options, switchyardPlugin].length;
}
`;
