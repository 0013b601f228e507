// `switchyard serve`'s reloads from its config file: on SIGHUP, and with --watch whenever the file changes
// (debounced; the file's directory is watched, so an editor that writes a temporary file and renames it over the
// config is seen too). Every reload, wherever it came from (the file, PUT /admin/config, another instance), is
// logged here: applied with its version, or rejected with the field at fault and the config in use kept.

import { readFileSync, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import { parseSource } from '../config/source.ts';
import { configError } from '../config.ts';
import { isSwitchyardError } from '../errors.ts';
import type { ReloadSource, Runtime } from '../runtime.ts';

export interface FileReloadOptions {
  /** Reload when the file changes, not only on SIGHUP. */
  watch: boolean;
  /** Quiet time after the last change before the file is read (editors write in several steps). */
  debounceMs?: number;
  log?: (line: string) => void;
}

export const fileReloadDefaults = { debounceMs: 250 } as const;

/** Hooks SIGHUP (and with `watch`, changes of `path`) to reloads of `runtime` from `path`; returns the unhook. */
export function reloadFromFile(runtime: Runtime, path: string, options: FileReloadOptions): () => void {
  const log = options.log ?? ((line: string) => console.log(line));
  const unsubscribe = runtime.subscribe((record) => {
    if (record.machine !== 'config') return;
    const status = runtime.configStatus();
    if (record.event === 'config.applied') log(`switchyard config ${record.state} applied (${status.source})`);
    else if (record.event !== 'config.rejected') {
      // `rollout.started` on `config:rollout:v2`: what the reload did to an experiment or a rollout.
      const [kind, change] = record.event.split('.');
      log(`switchyard config: ${kind} ${record.actor.slice(`config:${kind}:`.length)} ${change}`);
    } else
      log(`switchyard config rejected (${status.rejected?.source ?? '?'}), keeping ${record.state}: ${status.rejected?.message ?? ''}`);
  });
  // The text last read: a change event that leaves the file as it was (a touch, a save without edits) does nothing.
  let lastText: string | null = null;
  const reload = (source: ReloadSource, onlyIfChanged: boolean) => {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      // Mid-rename, or gone: the next event (or signal) tries again.
      log(`switchyard config not reloaded: cannot read ${path} (${err instanceof Error ? err.message : String(err)})`);
      return;
    }
    if (onlyIfChanged && text === lastText) return;
    lastText = text;
    const parsed = parseSource(text, path);
    const input = parsed.ok ? parsed.value : undefined;
    const attempt = parsed.ok ? runtime.reload(input, { source }) : Promise.reject(configError(parsed.issues, path));
    attempt.then(
      (result) => {
        if (result.restartRequired.length > 0)
          log(`switchyard config: ${result.restartRequired.join(', ')} changed; applies at the next restart`);
      },
      (err: unknown) => {
        // A file that does not even parse never reaches the runtime: report it here.
        if (!parsed.ok || !isSwitchyardError(err, 'invalid_config')) log(`switchyard config rejected (${source}): ${String(err)}`);
      },
    );
  };
  try {
    lastText = readFileSync(path, 'utf8');
  } catch {
    lastText = null;
  }
  const onSignal = () => reload('signal', false);
  process.on('SIGHUP', onSignal);
  let timer: NodeJS.Timeout | undefined;
  const watcher = options.watch
    ? watch(dirname(path), (_event, name) => {
        if (name !== null && name !== basename(path)) return;
        clearTimeout(timer);
        timer = setTimeout(() => reload('file', true), options.debounceMs ?? fileReloadDefaults.debounceMs);
      })
    : undefined;
  return () => {
    process.off('SIGHUP', onSignal);
    clearTimeout(timer);
    watcher?.close();
    unsubscribe();
  };
}
