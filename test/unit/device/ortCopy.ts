/**
 * A private copy of onnxruntime-node (package.json, dist/, the linux-x64 binding and libonnxruntime.so.1) in a
 * temp folder, so tests can place provider libraries next to a binding without touching node_modules.
 */
import { cp, mkdir, mkdtemp, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { onnxruntimeNodeDir, ortBindingDir } from '../../../core/graph/device.ts';

const COMMON = 'onnxruntime-common';

export async function copyOnnxruntimeNode(): Promise<{ root: string; ortDir: string }> {
  const source = onnxruntimeNodeDir();
  const root = await mkdtemp(join(tmpdir(), 'reasonloop-ort-'));
  const ortDir = join(root, 'node_modules', 'onnxruntime-node');
  await mkdir(ortBindingDir(ortDir), { recursive: true });
  await cp(join(source, 'package.json'), join(ortDir, 'package.json'));
  await cp(join(source, 'dist'), join(ortDir, 'dist'), { recursive: true });
  for (const name of ['libonnxruntime.so.1', 'onnxruntime_binding.node'])
    await cp(join(ortBindingDir(source), name), join(ortBindingDir(ortDir), name));
  // dist/ requires onnxruntime-common; Node resolves it from the copy's node_modules.
  const commonMain = createRequire(join(source, 'package.json')).resolve('onnxruntime-common');
  const common = commonMain.slice(0, commonMain.lastIndexOf(COMMON) + COMMON.length);
  await symlink(common, join(root, 'node_modules', 'onnxruntime-common'));
  return { root, ortDir };
}
