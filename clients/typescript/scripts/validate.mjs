// Validates the service's OpenAPI document (src/service/openapi.json, the bytes the service
// serves at /openapi.json) against the OpenAPI 3 schema with the pinned @apidevtools/swagger-parser,
// resolving every $ref. Exit 1 with the validator's findings when it is not valid.
//   node scripts/validate.mjs [document.json]
import SwaggerParser from '@apidevtools/swagger-parser';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const file = process.argv[2] || path.resolve(here, '../../../src/service/openapi.json');
try {
  const api = await SwaggerParser.validate(file);
  const operations = Object.values(api.paths).reduce(
    (n, item) => n + ['get', 'put', 'post', 'delete', 'patch'].filter((m) => item[m]).length, 0);
  console.log(`${file}: valid OpenAPI ${api.openapi}, ${Object.keys(api.paths).length} paths, ${operations} operations`);
} catch (e) {
  console.error(`${file}: not valid OpenAPI\n${e.message}`);
  process.exit(1);
}
