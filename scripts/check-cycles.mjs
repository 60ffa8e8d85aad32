#!/usr/bin/env node
/**
 * Import cycles among the project's TypeScript modules, type-only imports included (a type
 * import still ties two modules' designs together). Prints each cycle and exits 1 when any.
 *   node scripts/check-cycles.mjs [folders...]   (default: src workflows activities)
 */
import ts from 'typescript';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const folders = process.argv.slice(2).length
  ? process.argv.slice(2)
  : ['src', 'workflows', 'activities'];

function files(dir) {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return files(path);
    return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
  });
}

function imports(file) {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
  const found = [];
  const visit = (node) => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    )
      found.push(node.moduleSpecifier.text);
    if (
      ts.isImportTypeNode(node) &&
      ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteral(node.argument.literal)
    )
      found.push(node.argument.literal.text);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found
    .filter((specifier) => specifier.startsWith('.'))
    .map((specifier) => resolve(dirname(file), specifier).replace(/\.js$/, '.ts'))
    .filter((target) => existsSync(target));
}

const graph = new Map();
for (const folder of folders)
  for (const file of files(join(root, folder))) graph.set(file, imports(file));

// Tarjan's strongly connected components: every component of two or more modules is a cycle.
let index = 0;
const stack = [];
const meta = new Map();
const cycles = [];
function connect(file) {
  meta.set(file, { index, low: index, onStack: true });
  index++;
  stack.push(file);
  for (const next of graph.get(file) ?? []) {
    if (!graph.has(next)) continue;
    if (!meta.has(next)) {
      connect(next);
      meta.get(file).low = Math.min(meta.get(file).low, meta.get(next).low);
    } else if (meta.get(next).onStack) {
      meta.get(file).low = Math.min(meta.get(file).low, meta.get(next).index);
    }
  }
  if (meta.get(file).low === meta.get(file).index) {
    const component = [];
    let member;
    do {
      member = stack.pop();
      meta.get(member).onStack = false;
      component.push(member);
    } while (member !== file);
    if (component.length > 1 || (graph.get(file) ?? []).includes(file)) cycles.push(component);
  }
}
for (const file of graph.keys()) if (!meta.has(file)) connect(file);

if (cycles.length === 0) {
  console.log(`no import cycles among ${graph.size} modules (type imports included)`);
} else {
  for (const cycle of cycles)
    console.log(
      `cycle of ${cycle.length} modules:\n  ${cycle
        .map((f) => relative(root, f))
        .sort()
        .join('\n  ')}`,
    );
  process.exit(1);
}
