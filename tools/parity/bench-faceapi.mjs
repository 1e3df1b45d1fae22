// face-api (JavaScript, tfjs-backend-wasm) on the same photos as facerec's bench_profiles: the
// whole pipeline a face-api user runs — detectAllFaces (SSD MobileNet v1, face-api's default)
// .withFaceLandmarks() .withFaceDescriptors() — timed per photo, one run, one wasm thread.
//
// Usage: node bench-faceapi.mjs --list FILE [--threads 1] [--detector ssd|tiny] [--warmup 3]
//   --list: image paths, one per line (bench_profiles --write-list writes the same 200 LFW photos)
// Prints one JSON line: runtime, photos, faces found, ms per photo (mean, median).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { rgbaToRgb } from './rgb.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const list = arg('--list', '');
const threads = Number(arg('--threads', '1'));
const detector = arg('--detector', 'ssd');
const warmup = Number(arg('--warmup', '3'));
if (!list) {
  process.stderr.write('usage: node bench-faceapi.mjs --list FILE [--threads N] [--detector ssd|tiny]\n');
  process.exit(2);
}

const warn = console.warn;
console.warn = (...a) => {
  if (!String(a[0]).includes('is already registered')) warn(...a);
};
const tf = require('@tensorflow/tfjs');
const wasm = require('@tensorflow/tfjs-backend-wasm');
const jpeg = require('jpeg-js');

async function main() {
  wasm.setWasmPaths(path.join(here, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist') + path.sep);
  if (wasm.setThreadsCount) wasm.setThreadsCount(threads);
  await tf.setBackend('wasm');
  await tf.ready();
  const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
  const models = path.join(here, 'node_modules', '@vladmandic', 'face-api', 'model');
  if (detector === 'tiny') await faceapi.nets.tinyFaceDetector.loadFromDisk(models);
  else await faceapi.nets.ssdMobilenetv1.loadFromDisk(models);
  await faceapi.nets.faceLandmark68Net.loadFromDisk(models);
  await faceapi.nets.faceRecognitionNet.loadFromDisk(models);
  const options = detector === 'tiny' ? new faceapi.TinyFaceDetectorOptions() : new faceapi.SsdMobilenetv1Options();
  const files = fs.readFileSync(list, 'utf8').split('\n').filter((l) => l.trim());
  const decode = (file) => {
    const img = jpeg.decode(fs.readFileSync(file), { useTArray: true });
    const rgb = rgbaToRgb(img);
    return tf.tensor3d(rgb, [img.height, img.width, 3], 'int32');
  };
  const run = async (file) => {
    const t = decode(file);
    const r = await faceapi.detectAllFaces(t, options).withFaceLandmarks().withFaceDescriptors();
    t.dispose();
    return r.length;
  };
  for (let i = 0; i < Math.min(warmup, files.length); i++) await run(files[i]);
  const ms = [];
  let faces = 0;
  for (const f of files) {
    const t0 = process.hrtime.bigint();
    faces += await run(f);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const sorted = [...ms].sort((a, b) => a - b);
  const mean = ms.reduce((a, b) => a + b, 0) / ms.length;
  process.stdout.write(
    `${JSON.stringify({
      runtime: `face-api ${faceapi.version} on tfjs ${tf.version_core}, backend ${tf.getBackend()}, ${threads} thread(s)`,
      detector: detector === 'tiny' ? 'TinyFaceDetector' : 'SsdMobilenetv1',
      photos: files.length,
      faces,
      ms_mean: mean,
      ms_median: sorted[Math.floor(sorted.length / 2)],
    })}\n`,
  );
}

main().catch((e) => {
  process.stderr.write(`bench-faceapi failed: ${e.stack || e}\n`);
  process.exit(1);
});
