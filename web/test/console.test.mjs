// The web console in a real browser: Debian's Chromium, headless, driven by playwright-core,
// against a real `facerec serve` on loopback (fresh gallery). Sign in (a wrong key first), enrol
// two people from LFW (file picker and drag-and-drop), a hostile name that must stay text, paging
// and name search, identify a third photo and see the right name boxed, verify two photos, delete
// a person, sign out. Every API response the page receives is checked against the OpenAPI
// document; the page must raise no script error and no Content-Security-Policy violation; the key
// must appear in no URL, no log line and no storage but sessionStorage. Screenshots go to
// $FACEREC_SCREENSHOTS (default web/test/screenshots). Exit 77: skipped (no LFW in ../shared).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const { startServe, sharedDir, skip } = await import(pathToFileURL(path.join(root, 'tests/js/facerec-serve.mjs')).href);
const { responseChecker } = await import(pathToFileURL(path.join(root, 'tests/js/openapi-responses.mjs')).href);
// Ajv is the typed client's pinned dev dependency (clients/typescript)
const Ajv2020 = createRequire(path.join(root, 'clients/typescript/package.json'))('ajv/dist/2020.js').default;

const CHROMIUM = process.env.FACEREC_CHROMIUM || '/usr/bin/chromium';
const lfw = path.join(sharedDir(), 'data', 'lfw', 'images');
if (!existsSync(path.join(lfw, 'Tony_Blair'))) skip(`${lfw} is absent`);
assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: scripts/setup.sh installs Debian's chromium`);
const shots = process.env.FACEREC_SCREENSHOTS || path.join(here, 'screenshots');
mkdirSync(shots, { recursive: true });
const photo = (person, n) => path.join(lfw, person, `${person}_${String(n).padStart(4, '0')}.jpg`);

const KEY = 'console-key-0123456789abcdef';
const server = await startServe({ key: KEY, args: ['--pipelines', '1', '--http-threads', '8'] });
const doc = await (await fetch(`${server.baseUrl}/openapi.json`)).json();
const check = responseChecker(doc, Ajv2020);

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  // no sandbox as root; no background connections (this machine's network is closed)
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync'],
});
const problems = [];
const urls = [];
let apiResponses = 0;
let steps = 0;
let page;
async function step(name, body) {
  const t0 = performance.now();
  try {
    await body();
  } catch (e) {
    if (page) {
      await page.screenshot({ path: path.join(shots, 'failure.png') }).catch(() => {});
      const text = await page.getByTestId('message').textContent().catch(() => '');
      console.log(`not ok ${steps + 1} - ${name}; the page says: ${text}; see ${path.join(shots, 'failure.png')}`);
    }
    throw e;
  }
  ++steps;
  console.log(`ok ${steps} - ${name} (${Math.round(performance.now() - t0)} ms)`);
}

try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.setDefaultTimeout(30000);
  page.on('pageerror', (e) => problems.push(`script error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) problems.push(`console error: ${m.text()}`);
  });
  page.on('dialog', async (d) => {
    if (d.type() === 'confirm') return d.accept();
    problems.push(`unexpected ${d.type()} dialog: ${d.message()}`);  // e.g. an alert() run from a name
    await d.dismiss();
  });
  page.on('request', (r) => urls.push(r.url()));
  // The page's API calls pass through here, so that each response body is at hand to check
  // (Chromium's inspector drops response bodies of pages that upload large files) -- except
  // multipart uploads, whose file parts Playwright cannot send on: those are checked as they arrive.
  const checkResponse = (request, status, type, body) => {
    ++apiResponses;
    const problem = check(request.method(), request.url(), status, type, body);
    if (problem) problems.push(problem);
  };
  const multipart = (request) => (request.headers()['content-type'] || '').startsWith('multipart/');
  await page.route('**/v1/**', async (route) => {
    if (multipart(route.request())) return route.continue();
    const response = await route.fetch();
    checkResponse(route.request(), response.status(), response.headers()['content-type'], await response.text());
    await route.fulfill({ response });
  });
  const pending = [];
  page.on('response', (r) => {
    if (!new URL(r.url()).pathname.startsWith('/v1/') || !multipart(r.request())) return;
    pending.push(r.text().then((body) => checkResponse(r.request(), r.status(), r.headers()['content-type'], body),
                               (e) => problems.push(`${r.url()}: no body to check (${e.message})`)));
  });
  const message = page.getByTestId('message');
  const rows = page.getByTestId('person-row');

  await step('the page loads without a key, under a strict Content-Security-Policy', async () => {
    const response = await page.goto(server.baseUrl + '/');
    assert.equal(response.status(), 200);
    const csp = response.headers()['content-security-policy'];
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(await page.locator('script:not([src])').count(), 0, 'no inline script');
    await page.getByTestId('api-key').waitFor();
    const foreign = urls.filter((u) => !u.startsWith(server.baseUrl) && !u.startsWith('blob:') && !u.startsWith('data:'));
    assert.deepEqual(foreign, [], 'nothing loaded from elsewhere (no CDN, no fonts)');
  });

  await step('a wrong key is refused with the API\'s message; the right one signs in', async () => {
    await page.getByTestId('api-key').fill('not-the-key-0123456789');
    await page.getByTestId('sign-in').click();
    await assert.doesNotReject(message.filter({ hasText: 'Sign-in refused: API key not accepted' }).waitFor());
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    await page.getByTestId('api-key').fill(KEY);
    await page.getByTestId('sign-in').click();
    await page.getByTestId('server-info').filter({ hasText: 'threshold' }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('facerec.apiKey')), KEY);
    assert.equal(await page.evaluate(() => localStorage.length), 0);
    assert.equal(await page.evaluate(() => document.cookie), '');
  });

  const createPerson = async (name, metadata = '') => {
    await page.getByTestId('new-name').fill(name);
    await page.getByTestId('new-metadata').fill(metadata);
    await page.getByTestId('create').click();
    await page.getByTestId('person-name').filter({ hasText: name }).waitFor();
  };
  const enrolled = (n) => page.locator('[data-testid=upload][data-result=enrolled]').nth(n - 1).waitFor();

  await step('enrol Tony Blair with the file picker', async () => {
    await createPerson('Tony_Blair', '{"team": "e2e"}');
    await page.getByTestId('face-files').setInputFiles([photo('Tony_Blair', 1), photo('Tony_Blair', 2)]);
    await enrolled(2);
    const result = await page.getByTestId('uploads').innerText();
    assert.match(result, /quality [\d.]+ \(size [\d.]+, sharpness [\d.]+, exposure [\d.]+, pose [\d.]+\) · detection [\d.]+ · face \d+×\d+ px/);
    await page.getByTestId('person-panel').filter({ hasText: '2 enrolled faces' }).waitFor();
  });

  await step('enrol Colin Powell by drag-and-drop, with a preview of each photo', async () => {
    await createPerson('Colin_Powell');
    const files = [1, 2].map((n) => ({ name: `Colin_Powell_000${n}.jpg`, bytes: [...readFileSync(photo('Colin_Powell', n))] }));
    const transfer = await page.evaluateHandle((files) => {
      const dt = new DataTransfer();
      for (const f of files) dt.items.add(new File([new Uint8Array(f.bytes)], f.name, { type: 'image/jpeg' }));
      return dt;
    }, files);
    await page.getByTestId('face-drop').dispatchEvent('dragover', { dataTransfer: transfer });
    await page.getByTestId('face-drop').dispatchEvent('drop', { dataTransfer: transfer });
    await enrolled(2);
    assert.equal(await page.locator('[data-testid=upload] img').count(), 2);
    const loaded = await page.locator('[data-testid=upload] img').evaluateAll((imgs) => imgs.every((i) => i.complete && i.naturalWidth > 0));
    assert.ok(loaded, 'previews render (blob: images under the CSP)');
  });

  await step('a photo without a face is refused, with the API\'s reason', async () => {
    await page.getByTestId('face-files').setInputFiles({ name: 'notes.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('not a photo') });
    await page.locator('[data-testid=upload][data-result=refused]').waitFor();
    assert.match(await page.locator('[data-testid=upload][data-result=refused]').innerText(), /bad_image/);
  });

  const hostile = '<img src=x onerror=alert(1)>';
  await step('a hostile name and metadata stay text', async () => {
    await createPerson(hostile, '<script>alert(2)</script>');
    assert.equal(await page.getByTestId('person-name').textContent(), hostile);
    const row = rows.filter({ hasText: hostile });
    assert.equal(await row.count(), 1);
    assert.equal(await page.locator('table img, #person-name img, #person-metadata script').count(), 0);
    assert.equal(await page.locator('#person-metadata').textContent(), '<script>alert(2)</script>');
  });

  await step('pages of 20 people, and search by name', async () => {
    for (let i = 0; i < 20; ++i) {
      const r = await fetch(`${server.baseUrl}/v1/people`, {
        method: 'POST', headers: { 'X-API-Key': KEY, 'Content-Type': 'application/json' },
        body: JSON.stringify({ name: `Extra ${String(i).padStart(2, '0')}` }),
      });
      assert.equal(r.status, 201);
    }
    await page.getByTestId('search').fill('');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByTestId('page-info').filter({ hasText: '1–20 of 23' }).waitFor();
    assert.equal(await rows.count(), 20);
    await page.getByTestId('next-page').click();
    await page.getByTestId('page-info').filter({ hasText: '21–23 of 23' }).waitFor();
    assert.equal(await rows.count(), 3);
    assert.ok(await page.getByTestId('next-page').isDisabled());
    await page.getByTestId('prev-page').click();
    await page.getByTestId('page-info').filter({ hasText: '1–20 of 23' }).waitFor();
    await page.getByTestId('search').fill('powell');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByTestId('page-info').filter({ hasText: '1–1 of 1' }).waitFor();
    assert.equal(await rows.first().locator('td.name').textContent(), 'Colin_Powell');
    await page.screenshot({ path: path.join(shots, 'people.png') });
  });

  await step('identify a third photo: the right name, boxed', async () => {
    await page.getByRole('button', { name: 'Identify' }).click();
    await page.getByTestId('identify-file').setInputFiles(photo('Tony_Blair', 3));
    await page.getByTestId('identity').first().waitFor();
    assert.equal(await page.getByTestId('identified-face').count(), 1);
    assert.equal(await page.getByTestId('identity').first().textContent(), 'Tony_Blair');
    const box = page.getByTestId('face-box');
    await box.first().waitFor();
    assert.equal(await box.count(), 1);
    assert.match(await box.first().textContent(), /Tony_Blair/);
    const b = await box.first().boundingBox();
    const img = await page.locator('#identify-figure img').boundingBox();
    assert.ok(b.width > 20 && b.x >= img.x && b.x + b.width <= img.x + img.width + 1, 'the box lies on the photo');
    await page.screenshot({ path: path.join(shots, 'identify.png') });
  });

  await step('verify two photos side by side', async () => {
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByTestId('verify-file-a').setInputFiles(photo('Colin_Powell', 3));
    await page.getByTestId('verify-file-b').setInputFiles(photo('Colin_Powell', 4));
    await page.getByTestId('verify-run').click();
    await page.getByTestId('verdict').waitFor();
    assert.equal(await page.getByTestId('verdict').textContent(), 'Same person');
    await page.screenshot({ path: path.join(shots, 'verify.png') });
    await page.getByTestId('verify-file-b').setInputFiles(photo('Tony_Blair', 4));
    await page.getByTestId('verify-run').click();
    await page.getByTestId('verdict').filter({ hasText: 'Different people' }).waitFor();
  });

  await step('delete a person: gone from the list and from identification', async () => {
    await page.getByRole('button', { name: 'People' }).click();
    await page.getByTestId('search').fill('tony');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByTestId('page-info').filter({ hasText: '1–1 of 1' }).waitFor();
    await rows.first().getByTestId('open-person').click();
    await page.getByTestId('person-name').filter({ hasText: 'Tony_Blair' }).waitFor();
    await page.getByTestId('delete-person').click();
    await message.filter({ hasText: 'Deleted Tony_Blair.' }).waitFor();
    await page.getByTestId('page-info').filter({ hasText: '0–0 of 0' }).waitFor();
    await page.getByRole('button', { name: 'Identify' }).click();
    await page.getByTestId('identify-file').setInputFiles(photo('Tony_Blair', 3));
    await page.getByTestId('identity').first().waitFor();
    assert.notEqual(await page.getByTestId('identity').first().textContent(), 'Tony_Blair');
  });

  await step('an oversized photo gets the API\'s message', async () => {
    const big = Buffer.alloc(11 << 20, 7);  // the server's default limit is 10 MiB
    await page.getByTestId('identify-file').setInputFiles({ name: 'big.jpg', mimeType: 'image/jpeg', buffer: big });
    await message.filter({ hasText: 'body_too_large' }).waitFor();
    assert.match(await message.textContent(), /larger than the service accepts/);
  });

  await step('sign out: the key is gone, the API is closed again', async () => {
    await page.getByTestId('sign-out').click();
    await page.getByTestId('api-key').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    const r = await page.evaluate(async () => (await fetch('/v1/people')).status);
    assert.equal(r, 401, 'every call needs a key');
  });

  await step('no script error, no CSP violation, every response as documented, the key in no URL or log', async () => {
    await Promise.all(pending);
    assert.deepEqual(problems, []);
    assert.ok(apiResponses >= 20, `only ${apiResponses} API responses seen`);
    assert.deepEqual(urls.filter((u) => u.includes(KEY)), []);
    assert.ok(!server.log.join('').includes(KEY), 'the key is not logged');
    assert.ok(server.log.join('').includes('POST /v1/identify 200'), 'the access log was kept');
  });
  await context.close();

  await step('below the quality floor: refused with the reason, then enrolled when the user insists', async () => {
    // a second service whose floor no photo reaches
    const strict = await startServe({ key: KEY, args: ['--pipelines', '1', '--min-quality', '0.999'] });
    const ctx = await browser.newContext();
    const p2 = await ctx.newPage();
    p2.setDefaultTimeout(30000);
    p2.on('pageerror', (e) => problems.push(`script error: ${e.message}`));
    try {
      await p2.goto(strict.baseUrl + '/');
      await p2.getByTestId('api-key').fill(KEY);
      await p2.getByTestId('sign-in').click();
      await p2.getByTestId('new-name').fill('Colin_Powell');
      await p2.getByTestId('create').click();
      await p2.getByTestId('person-name').filter({ hasText: 'Colin_Powell' }).waitFor();
      await p2.getByTestId('face-files').setInputFiles(photo('Colin_Powell', 5));
      const refused = p2.locator('[data-testid=upload][data-result=refused]');
      await refused.waitFor();
      assert.match(await refused.innerText(), /below the enrolment floor 1\.00.*\[low_quality\]/s);
      await p2.getByTestId('force').click();
      await p2.locator('[data-testid=upload][data-result=enrolled]').waitFor();
      assert.match(await p2.getByTestId('uploads').innerText(), /enrolled \(forced\) · quality [\d.]+ \(size/);
      await p2.getByTestId('person-panel').filter({ hasText: '1 enrolled face' }).waitFor();
    } finally {
      await ctx.close();
      await strict.stop();
    }
  });
} finally {
  await browser.close();
  await server.stop();
}
console.log(`all ${steps} steps passed; screenshots in ${shots}`);
