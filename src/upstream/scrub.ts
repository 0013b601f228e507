// The one scrubber for text that comes from an upstream (error bodies, error events, redirect locations,
// messages of errors raised while reading its answers) before it is shown to a client, kept as a
// deployment's lastError, sent to the inspector or logged. An upstream may echo our own Authorization header,
// another tenant's key or an internal URL with a token in it: none of that leaves through Switchyard.

const redacted = '[redacted]';

/** URLs with a scheme: their credentials and query strings are secrets as often as not. */
const urlPattern = /\b[a-z][a-z0-9+.-]{1,15}:\/\/[^\s"'<>`]+/gi;
/** `Bearer <token>` wherever it appears (an echoed Authorization header, a message quoting it). */
const bearerPattern = /\b(bearer)\s+[A-Za-z0-9._~+/=-]+/gi;
/** OpenAI-style secret keys (`sk-…`, `sk-proj-…`, `sk-ant-…`) and the like. */
const keyPattern = /\b(sk|rk|pk)-[A-Za-z0-9_-]{8,}/g;
/** `api_key=…`, `"token": "…"`, `password: …` written out in a message. */
const assignmentPattern =
  /\b((?:api[_-]?key|access[_-]?token|refresh[_-]?token|token|secret|password|passwd)["']?\s*[:=]\s*["']?)[^\s"'&,;}]{3,}/gi;

function scrubUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // Not parseable: drop what could be credentials or a query by hand.
    return text.replace(/\/\/[^/@\s]*@/, `//${redacted}@`).replace(/\?.*$/, `?${redacted}`);
  }
  const credentials = url.username !== '' || url.password !== '' ? `${redacted}@` : '';
  const query = url.search !== '' ? `?${redacted}` : '';
  return `${url.protocol}//${credentials}${url.host}${url.pathname}${query}`;
}

/** Removes bearer tokens, secret keys, assigned secrets, URL credentials and URL query strings from `text`. */
export function scrub(text: string): string {
  return text
    .replace(urlPattern, scrubUrl)
    .replace(bearerPattern, `$1 ${redacted}`)
    .replace(keyPattern, `$1-${redacted}`)
    .replace(assignmentPattern, `$1${redacted}`);
}

/** A redirect's Location named by its host alone (`internal:8080`), or a placeholder when it names none. */
export function hostOnly(location: string | null): string {
  if (location === null) return 'an unnamed location';
  try {
    return new URL(location).host || 'a relative location';
  } catch {
    return 'a relative location';
  }
}

/** A copy of an error with its message and stack scrubbed, to keep as a cause without keeping its secrets. */
export function scrubbedError(err: unknown): Error {
  const source = err instanceof Error ? err : new Error(String(err));
  const copy = new Error(scrub(source.message));
  copy.name = source.name;
  copy.stack = source.stack === undefined ? undefined : scrub(source.stack);
  const code = (source as { code?: unknown }).code;
  if (typeof code === 'string') Object.assign(copy, { code });
  return copy;
}

/**
 * An error's text with a deployment's own secrets (its API key, its configured header values) replaced wherever
 * they appear literally: an upstream that quotes the request's headers back shows them in any shape, which the
 * patterns above cannot know. Secrets shorter than 8 characters are left alone (they would match ordinary words).
 */
export function withoutSecrets<E extends Error>(error: E, secrets: readonly string[]): E {
  const strip = (text: string) => {
    let out = text;
    for (const secret of secrets) if (secret.length >= 8) out = out.split(secret).join(redacted);
    return out;
  };
  error.message = strip(error.message);
  const cause = (error as { cause?: unknown }).cause;
  if (cause instanceof Error && cause.message !== strip(cause.message)) {
    // Some errors (a DOMException's abort) have a read-only message; they never carry an upstream's text.
    try {
      cause.message = strip(cause.message);
    } catch {}
  }
  return error;
}
