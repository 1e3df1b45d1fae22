// Reference runs of the original TFJS models (tfjs CPU backend) for facerec's parity tests.
//
// For each model in models/manifest.json: a real face image from ../shared/data/lfw is cropped
// and resized to the model's input size, rounded to uint8 RGB and saved as PNG (the fixture
// input); the network input is then (pixel - mean) * scale with the manifest's values, computed
// in float32 exactly as the C++ test does, and every output is saved as raw little-endian
// float32. face-api networks run through face-api's own code (which normalises internally).
//
// Usage: node --import ./register-hook.mjs generate.mjs --models DIR --shared DIR --out DIR
//   --models: the facerec model cache (holds src/<package>/package/... after `facerec models fetch`)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs/dist/index.js'; // the ESM build face-api's no-bundle file imports too
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { rgbaToRgb } from './rgb.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const repo = path.resolve(here, '..', '..');
const modelsDir = arg('--models', path.join(process.env.HOME, '.cache', 'facerec', 'models'));
const shared = arg('--shared', path.resolve(repo, '..', 'shared'));
const outDir = arg('--out', path.join(repo, 'tests', 'fixtures', 'parity'));
const manifest = JSON.parse(fs.readFileSync(path.join(repo, 'models', 'manifest.json'), 'utf8'));

// Which LFW image and which square crop (x, y, size in the 250x250 image) each task uses:
// detectors see the whole photo, landmarkers a loose face box, embedders a tight one.
const cropFor = {
  detect: { image: 'Aaron_Eckhart/Aaron_Eckhart_0001.jpg', box: [0, 0, 250] },
  landmarks: { image: 'Angelina_Jolie/Angelina_Jolie_0001.jpg', box: [55, 55, 140] },
  embed: { image: 'Colin_Powell/Colin_Powell_0001.jpg', box: [75, 75, 100] },
  liveness: { image: 'Serena_Williams/Serena_Williams_0001.jpg', box: [70, 70, 110] },
};

function sanitize(name) {
  return name.replace(/[:/]/g, '_');
}

function loadImage(rel) {
  const file = path.join(shared, 'data', 'lfw', 'images', rel);
  const img = jpeg.decode(fs.readFileSync(file), { useTArray: true });
  const rgb = rgbaToRgb(img);
  return tf.tensor3d(rgb, [img.height, img.width, 3], 'int32');
}

// uint8 HxWx3 crop of the image, resized (bilinear) to the model input.
function makeInput(spec, task) {
  const c = cropFor[task];
  const img = loadImage(c.image);
  const [x, y, s] = c.box;
  const crop = tf.slice(img, [y, x, 0], [s, s, 3]).toFloat();
  const resized = tf.image.resizeBilinear(crop, [spec.height, spec.width], false);
  const u8 = tf.clipByValue(tf.round(resized), 0, 255).toInt();
  return { u8, source: c.image, box: c.box };
}

function savePng(u8, file) {
  const [h, w] = u8.shape;
  const data = u8.dataSync();
  const png = new PNG({ width: w, height: h, colorType: 2 });
  for (let i = 0; i < w * h; i++) {
    png.data[4 * i] = data[3 * i];
    png.data[4 * i + 1] = data[3 * i + 1];
    png.data[4 * i + 2] = data[3 * i + 2];
    png.data[4 * i + 3] = 255;
  }
  fs.writeFileSync(file, PNG.sync.write(png, { colorType: 2 }));
}

function normalise(u8, spec) {
  const x = u8.toFloat().expandDims(0);
  return tf.mul(tf.sub(x, tf.tensor1d(spec.mean, 'float32')), tf.tensor1d(spec.scale, 'float32'));
}

function packageDir(pkg) {
  const p = manifest.packages.find((q) => q.name === pkg);
  return path.join(modelsDir, 'src', `${p.name}-${p.version}`.replace(/[@/]/g, '_'), 'package');
}

function weightsBuffer(groups, dir) {
  const bufs = [];
  const specs = [];
  for (const g of groups) {
    for (const p of g.paths) bufs.push(fs.readFileSync(path.join(dir, p)));
    specs.push(...g.weights);
  }
  const all = Buffer.concat(bufs);
  return { specs, data: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) };
}

async function runGraphModel(entry) {
  const file = path.join(packageDir(entry.package), entry.files[0]);
  const json = JSON.parse(fs.readFileSync(file, 'utf8'));
  const { specs, data } = weightsBuffer(json.weightsManifest, path.dirname(file));
  const model = await tf.loadGraphModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: specs, weightData: data }));
  // A cut graph (manifest "cut"): the named node is fed the normalised input, the named tensors
  // are the outputs, as facerec imports it.
  if (entry.cut) {
    const outs = entry.cut.outputs.map(([name, ref]) => ({ name, ref }));
    return { outs, run: (x) => model.execute({ [entry.cut.input]: x }, outs.map((o) => o.ref)) };
  }
  // Same output naming as facerec's importer: signature keys, else sink nodes in graph order.
  let outs = [];
  if (json.signature && json.signature.outputs) {
    for (const [key, spec] of Object.entries(json.signature.outputs)) outs.push({ name: sanitize(key), ref: spec.name || key });
  } else {
    const used = new Set();
    for (const n of json.modelTopology.node) for (const i of n.input || []) used.add(i.replace(/^\^/, '').split(':')[0]);
    for (const n of json.modelTopology.node) {
      if (!used.has(n.name) && !['Const', 'Placeholder', 'NoOp'].includes(n.op)) outs.push({ name: n.name, ref: n.name });
    }
  }
  return { outs, run: (x) => model.execute(x, outs.map((o) => o.ref)) };
}

// face-api's no-bundle ESM build runs on the tfjs installed here; its tensors come from faceapi.tf.
async function runFaceApi(entry) {
  const faceapi = await import('@vladmandic/face-api/dist/face-api.esm-nobundle.js');
  const ftf = faceapi.tf;
  await ftf.setBackend('cpu');
  await ftf.ready();
  const file = path.join(here, 'node_modules', '@vladmandic', 'face-api', entry.files[0]);
  const groups = JSON.parse(fs.readFileSync(file, 'utf8'));
  const { specs, data } = weightsBuffer(groups, path.dirname(file));
  const weightMap = ftf.io.decodeWeights(data, specs);
  const toInput = (u8) => faceapi.toNetInput(ftf.tensor4d(Array.from(u8.dataSync()), [1, ...u8.shape], 'float32'));
  const runtime = `face-api ${faceapi.version} (no-bundle build) on tfjs ${ftf.version_core}, backend ${ftf.getBackend()}`;
  if (entry.arch === 'face_recognition') {
    const net = new faceapi.FaceRecognitionNet();
    net.loadFromWeightMap(weightMap);
    return { outs: [{ name: 'descriptor' }], raw: true, runtime, run: async (u8) => [net.forwardInput(await toInput(u8))] };
  }
  const net = new faceapi.FaceLandmark68Net();
  net.loadFromWeightMap(weightMap);
  return { outs: [{ name: 'landmarks' }], raw: true, runtime, run: async (u8) => [net.runNet(await toInput(u8))] };
}

// Both tfjs-backend-webgl copies (tfjs's and face-api's import) register their kernels; the
// warnings about it are noise here (the CPU backend runs everything).
const warn = console.warn;
console.warn = (...a) => {
  if (!String(a[0]).includes('is already registered')) warn(...a);
};

async function main() {
  await tf.setBackend('cpu');
  await tf.ready();
  fs.mkdirSync(outDir, { recursive: true });
  const only = arg('--only', '');
  const index = [];
  // TFJS and face-api models only: the TFLite ones have their own generator (tools/parity/tflite).
  const ours = (e) => e.format === 'tfjs-graph' || e.format === 'faceapi-weights';
  for (const entry of manifest.models) {
    if (only && entry.name !== only) continue;
    if (!ours(entry)) continue;
    const spec = entry.input;
    const { u8, source, box } = makeInput(spec, entry.task);
    const runner = entry.format === 'tfjs-graph' ? await runGraphModel(entry) : await runFaceApi(entry);
    let outputs = runner.raw ? await runner.run(u8) : runner.run(normalise(u8, spec));
    if (!Array.isArray(outputs)) outputs = [outputs];
    savePng(u8, path.join(outDir, `${entry.name}.png`));
    const meta = {
      model: entry.name,
      image: `lfw/images/${source}`,
      crop: box,
      input: { png: `${entry.name}.png`, width: spec.width, height: spec.height, mean: spec.mean, scale: spec.scale },
      outputs: [],
      reference: runner.runtime || `@tensorflow/tfjs ${tf.version.tfjs}, backend ${tf.getBackend()}`,
    };
    for (let i = 0; i < outputs.length; i++) {
      const t = outputs[i];
      const f = `${entry.name}.${runner.outs[i].name}.f32`;
      fs.writeFileSync(path.join(outDir, f), Buffer.from(new Float32Array(t.dataSync()).buffer));
      meta.outputs.push({ name: runner.outs[i].name, shape: t.shape, file: f });
    }
    fs.writeFileSync(path.join(outDir, `${entry.name}.json`), `${JSON.stringify(meta, null, 2)}\n`);
    index.push(entry.name);
    process.stderr.write(`${entry.name}: ${meta.outputs.map((o) => `${o.name}[${o.shape}]`).join(' ')}\n`);
  }
  if (!only) {
    // keep the fixtures other generators wrote
    const file = path.join(outDir, 'index.json');
    const previous = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : [];
    const byName = new Map(manifest.models.map((e) => [e.name, e]));
    for (const name of previous) if (byName.has(name) && !ours(byName.get(name)) && !index.includes(name)) index.push(name);
    fs.writeFileSync(file, `${JSON.stringify(index, null, 2)}\n`);
  }
}

main().catch((e) => {
  process.stderr.write(`parity reference failed: ${e.stack || e}\n`);
  process.exit(1);
});
