// Abort controllers linked to a parent signal by one listener: cheaper per request than AbortSignal.any,
// and released when done so that a long-lived parent does not collect listeners.

export interface Linked {
  controller: AbortController;
  signal: AbortSignal;
  /** Drops the link to the parent. */
  release(): void;
}

/** A controller that aborts when `parent` does (with its reason), or when aborted itself. */
export function linkedController(parent: AbortSignal | undefined): Linked {
  const controller = new AbortController();
  const signal = controller.signal;
  if (!parent) return { controller, signal, release: () => {} };
  if (parent.aborted) {
    controller.abort(parent.reason);
    return { controller, signal, release: () => {} };
  }
  const onAbort = () => controller.abort(parent.reason);
  parent.addEventListener('abort', onAbort, { once: true });
  return { controller, signal, release: () => parent.removeEventListener('abort', onAbort) };
}
