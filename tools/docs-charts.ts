// Writes docs/statecharts.md from the machine definitions: `npm run docs:charts`.

import { writeFileSync } from 'node:fs';
import { chartsMarkdown } from '../src/inspection/charts.ts';

const target = new URL('../docs/statecharts.md', import.meta.url);
writeFileSync(target, chartsMarkdown());
console.log(`wrote ${target.pathname}`);
