// ESLint rule `reasonloop/boundaries`: every import arrow must be one lint/rooms.js allows.
import path from 'node:path';
import { CORE_FORBIDDEN_PACKAGES, REPO_ROOT, WORKFLOW_TYPE_ONLY, forbiddenArrow, roomOf } from './rooms.js';

/** True when the declaration brings in types only (`import type …`, or every specifier marked `type`). */
function isTypeOnly(node) {
  if (node.importKind === 'type' || node.exportKind === 'type') return true;
  const specifiers = node.specifiers ?? [];
  return specifiers.length > 0 && specifiers.every((s) => s.importKind === 'type' || s.exportKind === 'type');
}

function checkSource(context, node, source, typeOnly) {
  if (typeof source !== 'string') return;
  const fromRel = path.relative(REPO_ROOT, context.filename);
  if (fromRel.startsWith('..')) return;
  const fromRoom = roomOf(fromRel);
  if (!source.startsWith('.')) {
    if (fromRoom.startsWith('core/') && CORE_FORBIDDEN_PACKAGES.some((re) => re.test(source))) {
      context.report({
        node,
        message: `${fromRel} imports ${source}: core/ never imports Temporal packages`,
      });
    }
    return;
  }
  const toRel = path.relative(REPO_ROOT, path.resolve(path.dirname(context.filename), source));
  if (toRel.startsWith('..')) return;
  const toRoom = roomOf(toRel);
  if (fromRoom === 'workflows' && WORKFLOW_TYPE_ONLY.includes(toRoom.split('/')[0])) {
    if (!typeOnly) {
      context.report({
        node,
        message: `${fromRel} imports ${toRel} as a value: workflows import activity types only (import type)`,
      });
    }
    return;
  }
  const why = forbiddenArrow(fromRoom, toRoom);
  if (why)
    context.report({ node, message: `${fromRel} may not import ${toRel} (${fromRoom} → ${toRoom}): ${why}` });
}

export const boundaries = {
  meta: {
    type: 'problem',
    docs: { description: 'imports follow the allowed arrows between folders (lint/rooms.js)' },
    schema: [],
  },
  create(context) {
    return {
      ImportDeclaration: (node) => checkSource(context, node, node.source.value, isTypeOnly(node)),
      ExportNamedDeclaration: (node) =>
        node.source && checkSource(context, node, node.source.value, isTypeOnly(node)),
      ExportAllDeclaration: (node) =>
        checkSource(context, node, node.source.value, node.exportKind === 'type'),
      ImportExpression: (node) =>
        node.source.type === 'Literal' && checkSource(context, node, node.source.value, false),
    };
  },
};

export default { rules: { boundaries } };
