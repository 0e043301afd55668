// Headless Chromium driven through its own command line (no DevTools client, no browser download): one
// launch loads a page, writes a PNG screenshot of the viewport and prints the DOM after scripts ran.
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type DecodedPng, decodePng } from '../../helpers/png.ts';

/** Names the Debian/Ubuntu packages install the browser under, tried in order after the env variable. */
const CHROMIUM_NAMES = ['chromium', 'chromium-browser'];

/** A cold start plus one screenshot takes 1–2 s here; anything near this limit is a hung browser. */
const CHROMIUM_TIMEOUT_MS = 60_000;

export interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

export interface Screenshot {
  png: DecodedPng;
  /** Layout boxes of every measured element (by default those whose id starts with `chart-`), in CSS
   *  pixels (= screenshot pixels); an element not displayed has an all-zero box. */
  boxes: Map<string, Box>;
  /** The DOM after the page's scripts ran. */
  dom: string;
}

export interface ShotOptions {
  /** The URL fragment to load the page with (`step=2&only=tools`), for pages whose view it selects. */
  hash?: string;
  /** Which elements to measure (they need ids): a CSS selector. */
  measure?: string;
}

/** The browser binary: $REASONLOOP_CHROMIUM, else the first of CHROMIUM_NAMES on PATH. */
export function findChromium(): string | undefined {
  const fromEnv = process.env.REASONLOOP_CHROMIUM;
  if (fromEnv) return fromEnv;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    for (const name of CHROMIUM_NAMES) {
      const candidate = join(dir, name);
      try {
        accessSync(candidate, constants.X_OK);
        return candidate;
      } catch {
        // not here; keep looking
      }
    }
  }
  return undefined;
}

/** The elements measured by default: the report's charts. */
const CHART_SELECTOR = '[id^="chart-"]';

// Appended to a copy of the page: records the boxes of the elements `selector` matches (by id) as an
// attribute of <html>, which --dump-dom prints. It draws nothing and moves nothing, so the screenshot
// shows the page's own layout. It runs after the page's own scripts (it comes after them).
const measureScript = (selector: string) => `<script>
document.documentElement.setAttribute('data-chart-boxes', JSON.stringify(
  [...document.querySelectorAll(${JSON.stringify(selector)})].map((e) => {
    const r = e.getBoundingClientRect();
    return [e.id, r.left, r.top, r.width, r.height];
  })));
</script>`;

function parseBoxes(dom: string): Map<string, Box> {
  const m = /data-chart-boxes="([^"]*)"/.exec(dom);
  if (!m) throw new Error(`chromium --dump-dom printed no element boxes; DOM starts: ${dom.slice(0, 300)}`);
  const rows = JSON.parse(m[1]!.replaceAll('&quot;', '"').replaceAll('&amp;', '&')) as [
    string,
    number,
    number,
    number,
    number,
  ][];
  return new Map(rows.map(([id, left, top, width, height]) => [id, { left, top, width, height }]));
}

function runChromium(bin: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    // Its own process group, so a timeout kills the browser's helper processes too.
    const child = spawn(bin, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
      reject(
        new Error(`${bin} did not finish within ${CHROMIUM_TIMEOUT_MS} ms; stderr:\n${stderr.slice(-2000)}`),
      );
    }, CHROMIUM_TIMEOUT_MS);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`could not start ${bin}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new Error(`${bin} exited with ${code ?? signal}; stderr:\n${stderr.slice(-2000)}`));
    });
  });
}

/**
 * Screenshots an HTML document at a fixed viewport size and device scale 1, and measures its chart boxes.
 * `workDir` receives the page copy, the PNG and the browser profile.
 */
export async function screenshotHtml(
  bin: string,
  html: string,
  workDir: string,
  viewport: { width: number; height: number },
  options: ShotOptions = {},
): Promise<Screenshot> {
  const page = join(workDir, 'page.html');
  const shot = join(workDir, 'screenshot.png');
  writeFileSync(
    page,
    html.replace('</body>', `${measureScript(options.measure ?? CHART_SELECTOR)}\n</body>`),
  );
  const profile = mkdtempSync(join(tmpdir(), 'chromium-profile-'));
  try {
    const dom = await runChromium(bin, [
      '--headless',
      '--no-sandbox', // as root the browser refuses to start with its sandbox
      '--disable-gpu',
      '--hide-scrollbars',
      '--no-first-run',
      '--force-device-scale-factor=1',
      `--window-size=${viewport.width},${viewport.height}`,
      `--user-data-dir=${profile}`,
      `--screenshot=${shot}`,
      '--dump-dom',
      pathToFileURL(page).href + (options.hash ? `#${options.hash}` : ''),
    ]);
    if (!existsSync(shot)) throw new Error(`${bin} exited 0 but wrote no screenshot at ${shot}`);
    return { png: decodePng(readFileSync(shot), shot), boxes: parseBoxes(dom), dom };
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

/** Per-channel difference still counted as the colour: line centres and marker interiors are exact,
 *  antialiased edges blend towards white and are mostly left out, which is fine. */
export const COLOR_TOLERANCE = 8;

const rgb = (hex: string): [number, number, number] =>
  [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];

/** Pixels of one colour (within `tolerance` per channel), as [x, y], optionally only inside a box. */
export function pixelsOf(
  png: DecodedPng,
  hex: string,
  box?: Box,
  tolerance = COLOR_TOLERANCE,
): [number, number][] {
  const [r, g, b] = rgb(hex);
  const x0 = box ? Math.max(0, Math.floor(box.left)) : 0;
  const y0 = box ? Math.max(0, Math.floor(box.top)) : 0;
  const x1 = box ? Math.min(png.width, Math.ceil(box.left + box.width)) : png.width;
  const y1 = box ? Math.min(png.height, Math.ceil(box.top + box.height)) : png.height;
  const out: [number, number][] = [];
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const i = (y * png.width + x) * png.channels;
      const d = png.data;
      if (
        Math.abs(d[i]! - r) <= tolerance &&
        Math.abs(d[i + 1]! - g) <= tolerance &&
        Math.abs(d[i + 2]! - b) <= tolerance
      ) {
        out.push([x, y]);
      }
    }
  }
  return out;
}
