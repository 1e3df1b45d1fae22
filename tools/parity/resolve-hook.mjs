// Node ESM resolve hook: tfjs's ESM build (dist/index.js) imports its own files without the
// ".js" extension and imports directories, both of which Node's ESM resolver refuses. Retry such
// specifiers with ".js", then "/index.js", added.
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (err) {
    const code = err && err.code;
    if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'ERR_UNSUPPORTED_DIR_IMPORT') && !specifier.endsWith('.js')) {
      try {
        return await next(`${specifier}.js`, context);
      } catch {
        return next(`${specifier}/index.js`, context);
      }
    }
    throw err;
  }
}
