// Code blocks of a Markdown page that carry a file name after the language (```ts server.ts): the snippets
// a docs test writes out and runs.

export interface CodeBlock {
  lang: string;
  name: string;
  code: string;
}

export function codeBlocks(markdown: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  for (const match of markdown.matchAll(/^```(\w+) (\S+)\n([\s\S]*?)^```$/gm)) {
    const [, lang = '', name = '', code = ''] = match;
    blocks.push({ lang, name, code });
  }
  return blocks;
}
