// Writes switchyard.schema.json and the option tables of docs/configuration.md from the config schema:
// `npm run docs:config`.

import { readFileSync, writeFileSync } from 'node:fs';
import { renderConfigDocs } from '../src/config/docs.ts';
import { jsonSchemaText } from '../src/config/schema.ts';

const schemaFile = new URL('../switchyard.schema.json', import.meta.url);
writeFileSync(schemaFile, jsonSchemaText());
console.log(`wrote ${schemaFile.pathname}`);

const docs = new URL('../docs/configuration.md', import.meta.url);
writeFileSync(docs, renderConfigDocs(readFileSync(docs, 'utf8')));
console.log(`wrote ${docs.pathname}`);
