// Folder-level import cycles: the rooms of lint/rooms.js as nodes, every import between two rooms as an arrow.
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

/** room → room → one "file → file" import that makes the arrow (the TypeScript scanner skips strings/comments). */
export function roomGraph(root = REPO_ROOT) {
  const arrows = new Map();
  for (const file of sourceFiles(root)) {
    const fromRel = path.relative(root, file);
    const { importedFiles } = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
    for (const { fileName } of importedFiles) {
      if (!fileName.startsWith('.')) continue;
      const toRel = path.relative(root, path.resolve(path.dirname(file), fileName));
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
    for (const [from, tos] of [...arrows].sort()) console.log(`${from} → ${[...tos.keys()].sort().join(', ')}`);
  }
  const cycles = folderCycles(arrows);
  for (const cycle of cycles) {
    console.error(`folder-level import cycle: ${cycle.join(' ⇄ ')}`);
    for (const from of cycle) {
      for (const [to, example] of arrows.get(from) ?? []) if (cycle.includes(to)) console.error(`  ${example}`);
    }
  }
  if (cycles.length > 0) process.exit(1);
  console.log(`lint: no folder-level import cycle among ${arrows.size} folders`);
}
