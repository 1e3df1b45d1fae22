// End to end, through the generated client only: a real `facerec serve` on loopback (a fresh
// gallery), people created, faces uploaded from LFW, identification, verification, paging and
// name search, deletion, and the error bodies of a missing key, an oversized image and an unknown
// person. Every response the client receives is checked against the OpenAPI document the server
// publishes (tests/js/openapi-responses.mjs). Exit 77: skipped (no LFW in ../shared).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv2020 from 'ajv/dist/2020.js';
import { FacerecClient, FacerecError } from '../src/index.js';

// ---- small PNGs, made here so the test needs no image library ----
function crc32(bytes: Uint8Array) {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; ++k) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}
function chunk(type: string, data: Uint8Array) {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}
function ihdr(w: number, h: number) {
  const d = new Uint8Array(13);
  const v = new DataView(d.buffer);
  v.setUint32(0, w);
  v.setUint32(4, h);
  d.set([8, 0, 0, 0, 0], 8);  // 8-bit grey
  return chunk('IHDR', d);
}
const SIGNATURE = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]);
function concat(parts: Uint8Array[]) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, at), (at += p.length);
  return out;
}
// A PNG header with no pixel data: enough for the service's size probe.
function pngHeader(w: number, h: number) {
  return new Blob([concat([SIGNATURE, ihdr(w, h)])], { type: 'image/png' });
}
// A uniform grey w x h PNG (stored, uncompressed deflate blocks).
function pngOf(w: number, h: number) {
  const raw = new Uint8Array((w + 1) * h).fill(128);
  for (let y = 0; y < h; ++y) raw[y * (w + 1)] = 0;  // filter: none
  const blocks: Uint8Array[] = [new Uint8Array([0x78, 0x01])];
  for (let at = 0; at < raw.length; at += 65535) {
    const part = raw.subarray(at, Math.min(raw.length, at + 65535));
    const last = at + 65535 >= raw.length ? 1 : 0;
    blocks.push(new Uint8Array([last, part.length & 255, part.length >> 8, ~part.length & 255, (~part.length >> 8) & 255]), part);
  }
  let a = 1, b = 0;
  for (const x of raw) (a = (a + x) % 65521), (b = (b + a) % 65521);
  const adler = new Uint8Array(4);
  new DataView(adler.buffer).setUint32(0, ((b << 16) | a) >>> 0);
  blocks.push(adler);
  return new Blob([concat([SIGNATURE, ihdr(w, h), chunk('IDAT', concat(blocks)), chunk('IEND', new Uint8Array())])], { type: 'image/png' });
}

interface Serve {
  port: number;
  baseUrl: string;
  stop(): Promise<void>;
}
interface ServeModule {
  repoRoot: string;
  sharedDir(): string;
  skip(why: string): never;
  startServe(o: { key?: string; args?: string[] }): Promise<Serve>;
}
type Checker = (method: string, url: string, status: number, type: string | null, body: string) => string | null;

// tests/js/ is found from the checkout: this file runs from clients/typescript/dist/test/
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const serveModule = (await import(pathToFileURL(path.join(root, 'tests/js/facerec-serve.mjs')).href)) as ServeModule;
const { responseChecker } = (await import(pathToFileURL(path.join(root, 'tests/js/openapi-responses.mjs')).href)) as {
  responseChecker: (doc: unknown, ajv: unknown) => Checker;
};

const lfw = path.join(serveModule.sharedDir(), 'data', 'lfw', 'images');
if (!existsSync(path.join(lfw, 'Tony_Blair'))) serveModule.skip(`${lfw} is absent`);
const photo = (person: string, n: number) =>
  new Blob([readFileSync(path.join(lfw, person, `${person}_${String(n).padStart(4, '0')}.jpg`))], { type: 'image/jpeg' });

const KEY = 'e2e-key-0123456789abcdef';
const server = await serveModule.startServe({
  key: KEY,
  args: ['--max-body-mb', '1', '--max-pixels', '4000000', '--pipelines', '1', '--http-threads', '4', '--quiet'],
});

// every response the client receives, checked against the served document
const doc = await (await fetch(`${server.baseUrl}/openapi.json`)).json();
const check = responseChecker(doc, Ajv2020);
const problems: string[] = [];
let checked = 0;
const checkingFetch: typeof fetch = async (input, init) => {
  const request = input instanceof Request ? input : new Request(input, init);
  const response = await fetch(request);
  const text = await response.clone().text();
  const problem = check(request.method, request.url, response.status, response.headers.get('content-type'), text);
  if (problem) problems.push(problem);
  ++checked;
  return response;
};

const client = new FacerecClient({ baseUrl: server.baseUrl, apiKey: KEY, fetch: checkingFetch });
const anonymous = new FacerecClient({ baseUrl: server.baseUrl, fetch: checkingFetch });
const wrongKey = new FacerecClient({ baseUrl: server.baseUrl, apiKey: 'wrong-key-0123456789abcdef', fetch: checkingFetch });

async function rejects(promise: Promise<unknown>, status: number, code: string) {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof FacerecError, `expected a FacerecError, got ${e}`);
    assert.equal(e.status, status, e.message);
    assert.equal(e.code, code, e.message);
    assert.ok(e.message.length > 0);
    return e;
  }
  assert.fail(`expected ${status} ${code}, the call succeeded`);
}

let steps = 0;
async function step(name: string, body: () => Promise<void>) {
  const t0 = performance.now();
  await body();
  ++steps;
  console.log(`ok ${steps} - ${name} (${Math.round(performance.now() - t0)} ms)`);
}

try {
  await step('the served document is valid OpenAPI, and the response check can fail', async () => {
    await SwaggerParser.validate(structuredClone(doc));
    const person = '{"id": 1, "name": "Ann", "metadata": null, "templates": 0}';
    assert.equal(check('GET', '/v1/people/1', 200, 'application/json', person), null);
    assert.match(String(check('GET', '/v1/people/1', 200, 'application/json', '{"id": 1}')), /required/);
    assert.match(String(check('GET', '/v1/people/1', 200, 'application/json', person.replace('}', ', "x": 1}'))), /additional/);
    assert.match(String(check('GET', '/v1/people', 200, 'text/plain', 'hi')), /content type/);
    assert.match(String(check('PUT', '/v1/people', 200, 'application/json', '{}')), /not documented/);
  });

  await step('health and version', async () => {
    assert.equal((await anonymous.health()).status, 'ok');
    const v = await client.version();
    assert.ok(v.embedder.length > 0 && v.threshold > 0 && v.threshold < 1, JSON.stringify(v));
    assert.equal(v.templates, 0);
  });

  await step('a missing or wrong key: 401 unauthorized', async () => {
    const e = await rejects(anonymous.listPeople(), 401, 'unauthorized');
    assert.match(e.message, /X-API-Key/);
    await rejects(wrongKey.createPerson('Mallory'), 401, 'unauthorized');
  });

  let tony = 0, colin = 0;
  await step('create people and enrol their faces', async () => {
    const t = await client.createPerson('Tony_Blair', { source: 'lfw', note: 'e2e' });
    const c = await client.createPerson('Colin_Powell');
    assert.equal(t.templates, 0);
    assert.deepEqual(t.metadata, { source: 'lfw', note: 'e2e' });
    assert.equal(c.metadata, null);
    tony = t.id;
    colin = c.id;
    for (const n of [1, 2]) {
      const added = await client.addFace(tony, photo('Tony_Blair', n));
      assert.equal(added.person.id, tony);
      assert.ok(added.face.score > 0.5 && added.face.box.width > 40, JSON.stringify(added));
      assert.ok(added.face.quality.score >= 0 && added.face.quality.score <= 1, JSON.stringify(added.face.quality));
      assert.equal(added.quality, added.face.quality.score);
      await client.addFace(colin, photo('Colin_Powell', n));
    }
    assert.equal((await client.getPerson(tony)).templates, 2);
    assert.equal((await client.getPerson(colin)).templates, 2);
    await rejects(client.createPerson('Tony_Blair'), 409, 'already_exists');
  });

  await step('identify a third photo of each, and a stranger', async () => {
    for (const [name, id] of [['Tony_Blair', tony], ['Colin_Powell', colin]] as const) {
      const r = await client.identify(photo(name, 3), { top: 2 });
      assert.equal(r.faces.length, 1, JSON.stringify(r));
      assert.equal(r.faces[0].identity?.id, id, JSON.stringify(r.faces[0]));
      assert.equal(r.faces[0].identity?.name, name);
      assert.equal(r.faces[0].candidates.length, 2);
      assert.ok(r.faces[0].candidates[0].similarity >= r.threshold);
    }
    const stranger = await client.identify(photo('Aaron_Eckhart', 1));
    assert.equal(stranger.faces.length, 1);
    assert.equal(stranger.faces[0].identity, null, JSON.stringify(stranger.faces[0]));
  });

  await step('verify: image against image, and image against a person', async () => {
    const same = await client.verify(photo('Colin_Powell', 3), photo('Colin_Powell', 4));
    assert.equal(same.same, true, JSON.stringify(same));
    assert.equal(same.against, 'image b');
    const other = await client.verify(photo('Colin_Powell', 3), photo('Tony_Blair', 4));
    assert.equal(other.same, false, JSON.stringify(other));
    const person = await client.verifyPerson(photo('Tony_Blair', 4), tony);
    assert.equal(person.same, true, JSON.stringify(person));
    assert.ok(typeof person.against === 'object' && person.against.id === tony);
  });

  await step('pages of people, and search by name', async () => {
    for (const n of ['Ann', 'Bea', 'Cid', 'Dee', 'Eve']) await client.createPerson(n);
    const names: string[] = [];
    for (let offset = 0; ; offset += 3) {
      const page = await client.listPeople({ offset, limit: 3 });
      assert.equal(page.total, 7);
      assert.ok(page.people.length <= 3);
      names.push(...page.people.map((p) => p.name));
      if (page.people.length < 3) break;
    }
    assert.deepEqual(names, ['Ann', 'Bea', 'Cid', 'Colin_Powell', 'Dee', 'Eve', 'Tony_Blair']);
    const found = await client.listPeople({ name: 'POWELL' });
    assert.deepEqual(found.people.map((p) => p.name), ['Colin_Powell']);
    assert.equal(found.total, 1);
    assert.equal((await client.listPeople({ name: 'nobody' })).total, 0);
    await rejects(client.listPeople({ limit: 0 }), 400, 'bad_request');
  });

  await step('errors: unknown person, oversized image, not an image, no face', async () => {
    await rejects(client.getPerson(424242), 404, 'no_person');
    await rejects(client.deletePerson(424242), 404, 'no_person');
    await rejects(client.addFace(424242, photo('Tony_Blair', 5)), 404, 'no_person');
    await rejects(client.verifyPerson(photo('Tony_Blair', 5), 424242), 404, 'no_person');
    // 1.5 MiB against the server's 1 MiB limit: refused from Content-Length, before the body is read
    const big = new Blob([new Uint8Array(1536 * 1024).fill(7)], { type: 'image/jpeg' });
    const e = await rejects(client.addFace(tony, big), 413, 'body_too_large');
    assert.match(e.message, /limit/);
    // an image whose header says 5000x5000 pixels, over the server's 4 MP: refused before decoding
    await rejects(client.identify(pngHeader(5000, 5000)), 413, 'image_too_large');
    await rejects(client.identify(new Blob(['not an image'], { type: 'image/jpeg' })), 422, 'bad_image');
    await rejects(client.addFace(tony, pngOf(64, 64)), 422, 'no_face');
    assert.equal((await client.getPerson(tony)).templates, 2, 'failed uploads must store nothing');
  });

  await step('delete a person: gone from the gallery and from identification', async () => {
    assert.equal(await client.deletePerson(tony), tony);
    await rejects(client.getPerson(tony), 404, 'no_person');
    const r = await client.identify(photo('Tony_Blair', 3));
    assert.notEqual(r.faces[0].identity?.name, 'Tony_Blair');
    assert.equal((await client.listPeople()).total, 6);
  });

  await step('the raw typed client reaches every route too', async () => {
    const { data, response } = await client.raw.GET('/v1/people/{id}', { params: { path: { id: colin } } });
    assert.equal(response.status, 200);
    assert.equal(data?.name, 'Colin_Powell');
  });

  await step(`every response matched the OpenAPI document (${checked} checked)`, async () => {
    assert.deepEqual(problems, []);
    assert.ok(checked >= 40, `only ${checked} responses seen`);
  });
} finally {
  await server.stop();
}
console.log(`all ${steps} steps passed`);
