/* global process, console */
// Folder-level import cycles: the rooms of lint/rooms.js as nodes, every value import between two rooms as an arrow.
// Prints each cycle (a strongly connected set of two or more rooms) with one import that ties each arrow, and
// exits 1 when there is one. Run by `npm run lint`; `node lint/folderCycles.js --arrows` prints the room graph.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { REPO_ROOT, roomOf } from './rooms.js';

const SKIP = new Set(['node_modules', '.git', '.reasonloop', 'out', 'test']);
const SOURCE = /\.(ts|js|mjs)$/;

function sourceFiles(dir, out = []) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (SKIP.has(entry.name) || entry.name.startsWith('.')) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) sourceFiles(full, out);
    else if (SOURCE.test(entry.name)) out.push(full);
  }
  return out;
}

/** The relative module names `source` imports as values (type-only imports are erased at run time: skipped). */
export function valueImports(source) {
  const file = ts.createSourceFile('x.ts', source, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const names = [];
  const visit = (node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const bindings = clause?.namedBindings;
      const typeOnly =
        clause?.isTypeOnly ||
        (clause &&
          !clause.name &&
          bindings &&
          ts.isNamedImports(bindings) &&
          bindings.elements.length > 0 &&
          bindings.elements.every((e) => e.isTypeOnly));
      if (!typeOnly) names.push(node.moduleSpecifier.text);
    } else if (
      ts.isExportDeclaration(node) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      if (!node.isTypeOnly) names.push(node.moduleSpecifier.text);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      names.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return names.filter((n) => n.startsWith('.'));
}

/**
 * room → room → one "file → file" import that makes the arrow. Only value imports count: workflows import
 * activity *types* by design (Temporal's proxyActivities), which is no arrow at run time.
 */
export function roomGraph(root = REPO_ROOT) {
  const arrows = new Map();
  for (const file of sourceFiles(root)) {
    const fromRel = path.relative(root, file);
    for (const name of valueImports(fs.readFileSync(file, 'utf8'))) {
      const toRel = path.relative(root, path.resolve(path.dirname(file), name));
      if (toRel.startsWith('..')) continue;
      const [from, to] = [roomOf(fromRel), roomOf(toRel)];
      if (from === to) continue;
      if (!arrows.has(from)) arrows.set(from, new Map());
      if (!arrows.get(from).has(to)) arrows.get(from).set(to, `${fromRel} → ${toRel}`);
    }
  }
  return arrows;
}

/** Strongly connected components with more than one room (Tarjan). */
export function folderCycles(arrows) {
  let next = 0;
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const cycles = [];
  const visit = (v) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of arrows.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
    }
    if (low.get(v) === index.get(v)) {
      const component = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) cycles.push(component.sort());
    }
  };
  for (const v of arrows.keys()) if (!index.has(v)) visit(v);
  return cycles;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(fileURLToPath(import.meta.url))) {
  const arrows = roomGraph();
  if (process.argv.includes('--arrows')) {
    for (const [from, tos] of [...arrows].sort())
      console.log(`${from} → ${[...tos.keys()].sort().join(', ')}`);
  }
  const cycles = folderCycles(arrows);
  for (const cycle of cycles) {
    console.error(`folder-level import cycle: ${cycle.join(' ⇄ ')}`);
    for (const from of cycle) {
      for (const [to, example] of arrows.get(from) ?? [])
        if (cycle.includes(to)) console.error(`  ${example}`);
    }
  }
  if (cycles.length > 0) process.exit(1);
  console.log(`lint: no folder-level import cycle among ${arrows.size} folders`);
}
