// Reads a raw SSE body into its `data:` payloads, for checking framing by hand.

export async function readSse(res: Response): Promise<string[]> {
  const text = await res.text();
  return text
    .split('\n\n')
    .filter((frame) => frame.trim() !== '')
    .map((frame) => {
      if (!frame.startsWith('data: ')) throw new Error(`not an SSE data frame: ${frame}`);
      return frame.slice('data: '.length);
    });
}
