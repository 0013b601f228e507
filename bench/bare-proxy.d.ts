// Types of bench/bare-proxy.js (plain JavaScript, so that the bare proxy runs without type stripping).
export function startBareProxy(upstream: string): Promise<{ url: string; close(): Promise<void> }>;
