// Generates src/schema.d.ts (the types of every path, parameter, body and response) from the
// service's OpenAPI document with the pinned openapi-typescript, offline.
//   node scripts/generate.mjs          write src/schema.d.ts
//   node scripts/generate.mjs --check  exit 1 when src/schema.d.ts differs from what the document gives
import openapiTS, { astToString } from 'openapi-typescript';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const documentPath = path.resolve(here, '../../../src/service/openapi.json');
const outPath = path.resolve(here, '../src/schema.d.ts');

const ast = await openapiTS(pathToFileURL(documentPath));
const text =
  '// Generated from src/service/openapi.json by clients/typescript/scripts/generate.mjs\n' +
  '// (openapi-typescript, pinned in package.json); do not edit: run `npm run generate`.\n' +
  astToString(ast);

if (process.argv.includes('--check')) {
  const now = await readFile(outPath, 'utf8').catch(() => '');
  if (now !== text) {
    console.error(`${outPath} is out of date with ${documentPath}: run \`npm run generate\` in clients/typescript`);
    process.exit(1);
  }
  console.log('src/schema.d.ts matches the OpenAPI document');
} else {
  await writeFile(outPath, text);
  console.log(`wrote ${outPath}`);
}
