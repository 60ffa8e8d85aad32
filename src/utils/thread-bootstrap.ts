import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const sources = new Map<string, string>();

/**
 * The code (for `new Worker(code, { eval: true })`) a worker thread starts with: tsx's loader
 * first when this library runs from its TypeScript sources (under tsx, Jest or the CLI; threads
 * inherit none of the parent's loader hooks), then the entry module `entryName`, which sits next
 * to the caller (`callerUrl`: its `import.meta.url`) with the caller's extension.
 */
export function threadBootstrapSource(callerUrl: string, entryName: string): string {
  const caller = fileURLToPath(callerUrl);
  const entry = pathToFileURL(join(dirname(caller), `${entryName}${extname(caller)}`)).href;
  let source = sources.get(entry);
  if (!source) {
    const register =
      extname(caller) === '.ts' ? `(await import(${JSON.stringify(tsxApiUrl())})).register();` : '';
    source = `(async () => { ${register} await import(${JSON.stringify(entry)}); })();`;
    sources.set(entry, source);
  }
  return source;
}

function tsxApiUrl(): string {
  const manifestFile = createRequire(import.meta.url).resolve('tsx/package.json');
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as {
    exports: Record<string, { import: string | { default: string } }>;
  };
  const target = manifest.exports['./esm/api']!.import;
  return pathToFileURL(
    join(dirname(manifestFile), typeof target === 'string' ? target : target.default),
  ).href;
}
