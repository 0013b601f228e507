// The sticky assignment of a subject to an arm: a stable hash of the split's id and the subject into [0, 1).
// The same subject always lands on the same point, so it keeps its arm; a rollout's canary is every point below
// its percentage, so raising the percentage only moves subjects from the baseline to the canary. Pure.

/** FNV-1a over the UTF-16 code units, then murmur3's finalizer so nearby strings spread over the whole range. */
export function subjectPoint(splitId: string, subject: string): number {
  let h = 0x811c9dc5;
  const key = `${splitId}\u0000${subject}`;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 0x1_0000_0000;
}

/** Who a request is, for a sticky split: what the caller knows of it. */
export interface Subject {
  conversation?: string | undefined;
  tenant?: string | undefined;
  /** A request header by its lower-case name. */
  header?: ((name: string) => string | undefined) | undefined;
}

/** The subject's key under a split's `sticky` setting, or null when the request has none (it is then drawn at random). */
export function subjectKey(sticky: string, subject: Subject | undefined): string | null {
  if (!subject || sticky === 'none') return null;
  if (sticky === 'conversation') return subject.conversation ?? null;
  if (sticky === 'tenant') return subject.tenant ?? null;
  if (sticky.startsWith('header:')) return subject.header?.(sticky.slice('header:'.length).toLowerCase()) ?? null;
  return null;
}
