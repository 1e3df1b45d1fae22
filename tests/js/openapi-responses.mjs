// Checks responses against the OpenAPI document that the service publishes: the operation is
// documented, the status is documented (or covered by `default`), and a JSON body validates
// against the documented schema (JSON Schema 2020-12, as OpenAPI 3.1 uses).
//   import Ajv2020 from 'ajv/dist/2020.js';
//   const check = responseChecker(doc, Ajv2020);
//   const problem = check('GET', '/v1/people?limit=3', 200, 'application/json', bodyText);  // null: valid
// (Ajv comes from the caller, which has it installed.)
export function responseChecker(doc, Ajv2020) {
  const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
  ajv.addSchema(doc, 'openapi');
  const pointer = (parts) => parts.map((p) => String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
  const resolve = (node) => {
    while (node && node.$ref) node = node.$ref.slice(2).split('/').reduce((n, k) => n[k.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
    return node;
  };
  const templates = Object.keys(doc.paths).map((t) => ({
    t,
    re: new RegExp('^' + t.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+') + '$'),
  }));
  const compiled = new Map();
  return (method, url, status, contentType, bodyText) => {
    const p = new URL(url, 'http://x').pathname;
    const m = method.toLowerCase();
    const hit = templates.find(({ re }) => re.test(p));
    // a route nobody documents: only the service's own "no route" (with a key) or "unauthorized"
    // (without) may answer it, as an Error
    const refusal = status === 404 || status === 401;
    if (!hit) return refusal ? checkError(bodyText) : `${method} ${p}: not in the document, answered ${status}`;
    const op = doc.paths[hit.t][m];
    if (!op) return refusal ? checkError(bodyText) : `${method} ${hit.t}: not documented`;
    const key = op.responses[String(status)] ? String(status) : 'default';
    const response = resolve(op.responses[key]);
    if (!response) return `${method} ${hit.t}: status ${status} is not documented`;
    const type = (contentType || '').split(';')[0].trim();
    if (!response.content) return bodyText ? `${method} ${hit.t} ${status}: a body where none is documented` : null;
    if (!response.content[type]) return `${method} ${hit.t} ${status}: content type '${type}' is not documented`;
    if (type !== 'application/json') return null;
    let body;
    try {
      body = JSON.parse(bodyText);
    } catch {
      return `${method} ${hit.t} ${status}: the body is not JSON`;
    }
    const ref = op.responses[key].$ref
      ? `openapi#${op.responses[key].$ref.slice(1)}/content/application~1json/schema`
      : `openapi#/${pointer(['paths', hit.t, m, 'responses', key, 'content', 'application/json', 'schema'])}`;
    if (!compiled.has(ref)) compiled.set(ref, ajv.compile({ $ref: ref }));
    const validate = compiled.get(ref);
    return validate(body) ? null : `${method} ${hit.t} ${status}: ${ajv.errorsText(validate.errors)} in ${bodyText.slice(0, 300)}`;
  };
  function checkError(bodyText) {
    const ref = 'openapi#/components/schemas/Error';
    if (!compiled.has(ref)) compiled.set(ref, ajv.compile({ $ref: ref }));
    try {
      return compiled.get(ref)(JSON.parse(bodyText)) ? null : `an error body that is not an Error: ${bodyText.slice(0, 200)}`;
    } catch {
      return `an error body that is not JSON: ${bodyText.slice(0, 200)}`;
    }
  }
}
