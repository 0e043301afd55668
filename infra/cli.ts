/**
 * Command line for the local stack, used by test/run.sh and by hand:
 *   node --import tsx infra/cli.ts install [temporal] [versitygw]   fetch or build once into the cache, print paths
 *   node --import tsx infra/cli.ts up --state-dir DIR [--ui] [--fresh] start (or reuse a healthy one) on the data
 *                                            already in DIR (--fresh: wipe first); prints `export …`
 *   node --import tsx infra/cli.ts down --state-dir DIR              stop what `up` started; the data stays
 *   node --import tsx infra/cli.ts wipe --state-dir DIR              stop, then delete every workflow and object
 *   node --import tsx infra/cli.ts install-cuda [--with-nvidia-libs] [--copy] [--wheel FILE] [--version V]
 *                                            CUDA provider from PyPI (docs/gpu.md); prints `export LD_LIBRARY_PATH=…`
 */
import { parseArgs } from 'node:util';
import { installCudaProvider, ldLibraryPathExport } from './cuda.ts';
import { shellExports, stackDown, stackUp, stackWipe } from './sharedStack.ts';
import { installTool, TOOLS } from './tools.ts';

const USAGE =
  'usage: infra/cli.ts install [temporal|versitygw ...] | up --state-dir DIR [--ui] [--fresh] | down --state-dir DIR' +
  ' | wipe --state-dir DIR' +
  ' | install-cuda [--with-nvidia-libs] [--copy] [--wheel FILE] [--version V]';

async function main(argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'state-dir': { type: 'string' },
      ui: { type: 'boolean', default: false },
      fresh: { type: 'boolean', default: false },
      'with-nvidia-libs': { type: 'boolean', default: false },
      copy: { type: 'boolean', default: false },
      wheel: { type: 'string' },
      version: { type: 'string' },
    },
  });
  const [command, ...rest] = positionals;
  const stateDir = values['state-dir'];
  switch (command) {
    case 'install': {
      const names = rest.length > 0 ? rest : Object.keys(TOOLS);
      for (const name of names) {
        const tool = TOOLS[name];
        if (!tool) throw new Error(`unknown tool ${name} (known: ${Object.keys(TOOLS).join(', ')})`);
        process.stdout.write(`${name}: ${await installTool(tool)}\n`);
      }
      return;
    }
    case 'up': {
      if (!stateDir) throw new Error(`up needs --state-dir\n${USAGE}`);
      const state = await stackUp(stateDir, { ui: values.ui, fresh: values.fresh });
      process.stderr.write(
        `infra: Temporal dev server at ${state.temporal.address}${state.temporal.uiUrl ? ` (Web UI ${state.temporal.uiUrl})` : ''}, ` +
          `S3 server at ${state.s3.endpoint} (pids ${state.temporal.pid}, ${state.s3.pid})\n`,
      );
      process.stdout.write(`${shellExports(state.env)}\n`);
      return;
    }
    case 'down': {
      if (!stateDir) throw new Error(`down needs --state-dir\n${USAGE}`);
      await stackDown(stateDir);
      return;
    }
    case 'wipe': {
      if (!stateDir) throw new Error(`wipe needs --state-dir\n${USAGE}`);
      await stackWipe(stateDir);
      process.stderr.write(`infra: stopped the stack in ${stateDir} and deleted its workflows and objects\n`);
      return;
    }
    case 'install-cuda': {
      const installed = await installCudaProvider({
        withNvidiaLibs: values['with-nvidia-libs'],
        copy: values.copy,
        wheel: values.wheel,
        version: values.version,
      });
      process.stderr.write(
        `infra: CUDA provider for onnxruntime ${installed.version} ${installed.unchanged ? 'already in place' : 'installed'}: ` +
          `${installed.placed.join(', ')}\n`,
      );
      if (installed.libraryPath.length === 0)
        process.stderr.write(
          'infra: no NVIDIA libraries from PyPI (add --with-nvidia-libs, or have CUDA 13 + cuDNN 9 on the loader path)\n',
        );
      else process.stdout.write(`${ldLibraryPathExport(installed.libraryPath)}\n`);
      return;
    }
    default:
      throw new Error(USAGE);
  }
}

main(process.argv.slice(2)).catch((error: Error) => {
  process.stderr.write(`infra: ${error.message}\n`);
  process.exit(1);
});
