// `switchyard config check FILE…` and `switchyard config print FILE`: what an operator runs in CI before a
// deploy. check exits 1 listing every error with its path; print shows the config as Switchyard will run it.

import { extname } from 'node:path';
import { stringify } from 'yaml';
import { checkConfigFile, issueLines } from '../config.ts';
import { SwitchyardError } from '../errors.ts';
import { maskSecrets } from './print.ts';
import { configSchema } from './schema.ts';

export interface CommandOutput {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const usage = 'usage: switchyard config check FILE… | switchyard config print FILE';

/** Runs `config check` or `config print`; returns the exit code (0 valid, 1 invalid). */
export function configCommand(args: readonly string[], out: CommandOutput, env: NodeJS.ProcessEnv = process.env): number {
  const [sub, ...files] = args;
  if ((sub !== 'check' && sub !== 'print') || files.length === 0 || (sub === 'print' && files.length > 1)) {
    throw new SwitchyardError('invalid_request', usage);
  }
  let failed = false;
  for (const file of files) {
    const result = checkConfigFile(file, env);
    if (!result.ok) {
      failed = true;
      const n = result.issues.length;
      const lines = issueLines(result.issues, file).map((line) => `  ${line}\n`);
      out.stderr(`${file}: ${n} ${n === 1 ? 'error' : 'errors'}\n${lines.join('')}`);
      continue;
    }
    const { config } = result;
    if (sub === 'print') {
      const shown = maskSecrets(config, configSchema);
      const yaml = ['.yaml', '.yml'].includes(extname(file).toLowerCase());
      out.stdout(yaml ? stringify(shown) : `${JSON.stringify(shown, null, 2)}\n`);
    } else {
      const models = [...new Set(config.providers.flatMap((p) => Object.keys(p.models)))];
      out.stdout(`${file}: ok (${config.providers.length} providers; models: ${models.join(', ')})\n`);
    }
  }
  return failed ? 1 : 0;
}
