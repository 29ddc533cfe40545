// Writes the field table of docs/fields.md from the field registry (src/cli/fields.ts's
// fieldsMarkdown), between its two markers: the registry is the only list.
// Run after the build; test/docs.test.ts fails when the committed page differs.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const { fieldsMarkdown } = await import(join(ROOT, 'dist/cli/fields.js'));
const page = join(ROOT, 'docs/fields.md');
const BEGIN = '<!-- fields: generated from src/model/fields.ts by scripts/docs.mjs -->';
const END = '<!-- end of fields -->';
const text = readFileSync(page, 'utf8');
const a = text.indexOf(BEGIN);
const b = text.indexOf(END);
if (a < 0 || b < a) throw new Error(`docs/fields.md: the markers are missing (${BEGIN})`);
const next = `${text.slice(0, a + BEGIN.length)}\n${fieldsMarkdown()}\n${text.slice(b)}`;
if (next !== text) writeFileSync(page, next);
