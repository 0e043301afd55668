/**
 * Two RL steps of one model through the real workflow and workers (bench:scale): a worker process per role
 * (workflow, rollout, cpu, trainer) on the bench's own stack, `reasonloop train --wait` as a user runs it;
 * when step 1's checkpoint is committed the trainer worker is killed (SIGKILL) and a fresh one started, so
 * step 2's update reloads the state from that checkpoint. Reports each step's phase seconds (from the
 * checkpoint manifests), each worker's peak RSS and the checkpoint's bytes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LoraConfig } from '../../core/config/lora.ts';
import {
  listCheckpointSteps,
  manifestKey,
  openStore,
  type CheckpointManifest,
} from '../../core/store/index.ts';
import { startNode, startWorker, type BenchProcess } from './processes.ts';

export interface EndToEndOptions {
  name: string;
  modelDir: string;
  lora?: Pick<LoraConfig, 'rank' | 'baseDtype'>;
  storeUrl: string;
  env: Record<string, string>;
  logDir: string;
  prompts: number;
  samples: number;
  maxNewTokens: number;
  microBatchSize: number;
  /** Heartbeat timeout, and so how long step 2 waits for the killed trainer before another takes it. */
  heartbeatTimeoutSeconds: number;
  /** algorithm.gradientCheckpointing: whole layers (true) or all but their projections ("selective"). */
  recompute: true | 'selective';
}

export interface StepPhases {
  step: number;
  sampleSeconds: number;
  scoreSeconds: number;
  updateSeconds: number;
  /**
   * Seconds of the update itself inside updatePolicy (its `update` phase: forward, backward and AdamW over
   * the step's micro-batches), without reading or writing the state: the work PyTorch's step does.
   */
  updateStepSeconds: number;
  /** The trainer's peak RSS (GB) per phase of updatePolicy (its `memory/trainer_peak_rss_gb/…` metrics). */
  updatePeaksGB: Record<string, number>;
}

export interface EndToEndResult {
  runId: string;
  completed: boolean;
  steps: StepPhases[];
  /** Peak RSS per worker role in GB; `trainer` is the larger of the killed one's and its successor's. */
  peakRssGB: Record<string, number>;
  checkpointBytes: number;
  seconds: number;
}

export function runConfig(o: EndToEndOptions, runId: string) {
  return {
    runId,
    seed: 18,
    steps: 2,
    model: { dir: o.modelDir },
    task: {
      kind: 'math',
      data: {
        source: 'synthetic',
        task: { kind: 'arithmetic', knobs: { digits: 3, terms: 2, ops: ['+', '*'] } },
        size: 64,
        seed: 1,
      },
      prompt: { template: 'chat' },
      reward: { kind: 'correctness' },
    },
    rollout: {
      promptsPerStep: o.prompts,
      n: o.samples,
      maxNewTokens: o.maxNewTokens,
      temperature: 1,
      shards: 1,
    },
    algorithm: {
      kl: { placement: 'none' },
      miniBatchSize: o.prompts * o.samples,
      microBatchSize: o.microBatchSize,
      logProbChunkTokens: 'auto',
      gradientCheckpointing: o.recompute,
      optimizer: { lr: 1e-6 },
      ...(o.lora ? { lora: { rank: o.lora.rank, alpha: 2 * o.lora.rank, baseDtype: o.lora.baseDtype } } : {}),
    },
    store: { url: o.storeUrl },
    // Every role's onnxruntime sessions on both cores, as the update-step bench and PyTorch run: the
    // phases of a step run one after another, so the threads do not compete.
    orchestration: { heartbeatTimeoutSeconds: o.heartbeatTimeoutSeconds, intraOpThreads: 2 },
  };
}

function phasesOf(m: CheckpointManifest): StepPhases {
  return {
    step: m.step,
    sampleSeconds: m.metrics['timing/sample'] ?? NaN,
    scoreSeconds: m.metrics['timing/score'] ?? NaN,
    updateSeconds: m.metrics['timing/update'] ?? NaN,
    updateStepSeconds: m.metrics['timing/trainer_phase/update'] ?? NaN,
    updatePeaksGB: Object.fromEntries(
      Object.entries(m.metrics)
        .filter(([k]) => k.startsWith('memory/trainer_peak_rss_gb/'))
        .map(([k, v]) => [k.slice('memory/trainer_peak_rss_gb/'.length), v]),
    ),
  };
}

async function manifestOf(o: EndToEndOptions, runId: string, step: number): Promise<CheckpointManifest> {
  const store = openStore(o.storeUrl, { ...process.env, ...o.env });
  return JSON.parse(Buffer.from(await store.get(manifestKey(runId, step))).toString('utf8'));
}

export async function runEndToEnd(o: EndToEndOptions): Promise<EndToEndResult> {
  const started = performance.now();
  const runId = `scale-${o.name}-${Date.now().toString(36)}`;
  mkdirSync(o.logDir, { recursive: true });
  const configFile = join(o.logDir, `${runId}.json`);
  writeFileSync(configFile, JSON.stringify(runConfig(o, runId), null, 2));
  const log = (role: string) => join(o.logDir, `${runId}.${role}.log`);
  const workers: Record<string, BenchProcess> = {};
  for (const role of ['workflow', 'rollout', 'cpu', 'trainer'])
    workers[role] = startWorker(role, o.env, log(role));
  let successor: BenchProcess | undefined;
  const train = startNode(
    'train',
    'cli/reasonloop.ts',
    ['train', '--config', configFile, '--wait'],
    o.env,
    log('train'),
  );
  const store = openStore(o.storeUrl, { ...process.env, ...o.env });
  try {
    // Kill the trainer as soon as step 1 is committed, before step 2's update reaches it.
    while (train.child.exitCode === null) {
      // A manifest is written last, after every object of the step: its presence is the commit.
      const listed = await listCheckpointSteps(store, runId).catch(() => undefined);
      if (listed?.withManifest.includes(1)) {
        await workers.trainer.kill('SIGKILL');
        successor = startWorker('trainer', o.env, log('trainer-2'));
        break;
      }
      await sleep(2000);
    }
    const code = await train.exited;
    const steps: StepPhases[] = [];
    const manifests = await Promise.all(
      [1, 2].map((step) => manifestOf(o, runId, step).catch(() => undefined)),
    );
    for (const m of manifests) if (m) steps.push(phasesOf(m));
    const manifest1 = manifests[0];
    const peakRssGB: Record<string, number> = {};
    for (const [role, p] of Object.entries(workers)) peakRssGB[role] = p.peakGB();
    if (successor) peakRssGB.trainer = Math.max(peakRssGB.trainer, successor.peakGB());
    // The update resets the trainer's high-water mark per phase (its memory/… metrics): a peak just before
    // a reset can fall between two samples of it, never out of the phase's own figure.
    peakRssGB.trainer = Math.max(peakRssGB.trainer, ...steps.flatMap((s) => Object.values(s.updatePeaksGB)));
    return {
      runId,
      completed: code === 0,
      steps,
      peakRssGB,
      checkpointBytes: manifest1 ? manifest1.objects.reduce((s, x) => s + x.size, 0) : 0,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await train.kill();
    for (const p of [...Object.values(workers), ...(successor ? [successor] : [])]) await p.kill();
  }
}
