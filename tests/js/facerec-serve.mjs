// Starts a real `facerec serve` on loopback for the JavaScript tests (the typed client's end-to-end
// test and the web console's browser test), on a fresh gallery in a temporary directory.
//   const s = await startServe({ key, args: ['--max-body-mb', '1'] });  // s.baseUrl, s.port
//   ...; await s.stop();
// The binary: env FACEREC_BIN, else build/apps/facerec/facerec of this checkout. The shared data:
// env FACEREC_SHARED, else ../shared beside the checkout (see sharedDir()).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export function sharedDir() {
  return process.env.FACEREC_SHARED || path.resolve(repoRoot, '..', 'shared');
}

// Exit code a ctest test uses to say "skipped" (SKIP_RETURN_CODE in tests/CMakeLists.txt).
export const SKIP = 77;

export function skip(why) {
  console.log(`SKIPPED: ${why}`);
  process.exit(SKIP);
}

export async function startServe({ key, args = [], timeoutMs = 120000 } = {}) {
  const bin = process.env.FACEREC_BIN || path.join(repoRoot, 'build', 'apps', 'facerec', 'facerec');
  if (!existsSync(bin)) throw new Error(`no facerec binary at ${bin} (build first, or set FACEREC_BIN)`);
  const dir = mkdtempSync(path.join(tmpdir(), 'facerec-serve-'));
  const child = spawn(
    bin,
    ['serve', '--db', path.join(dir, 'gallery.db'), '--create', '--host', '127.0.0.1', '--port', '0', ...args],
    { env: { ...process.env, FACEREC_API_KEYS: key ?? '' }, stdio: ['ignore', 'inherit', 'pipe'] },
  );
  const log = [];
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`facerec serve did not start in ${timeoutMs} ms:\n${log.join('')}`)), timeoutMs);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      log.push(chunk);
      if (process.env.FACEREC_SERVE_LOG) process.stderr.write(chunk);
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(log.join(''));
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`facerec serve exited with ${code}:\n${log.join('')}`));
    });
  });
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  return { port, baseUrl: `http://127.0.0.1:${port}`, dir, log, stop };
}
