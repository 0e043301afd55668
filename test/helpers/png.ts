// A small PNG decoder for what a browser's screenshot writes: 8-bit RGB or RGBA, not interlaced, any of
// the five scanline filters (PNG spec, ISO/IEC 15948, §9). Enough to check pixels of a rendered report.
import { inflateSync } from 'node:zlib';

export interface DecodedPng {
  width: number;
  height: number;
  /** 3 (RGB) or 4 (RGBA) */
  channels: number;
  /** row-major, `channels` bytes per pixel, no padding */
  data: Uint8Array;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** IHDR colour types (PNG spec §11.2.2) this decoder reads, with their channel counts. */
const CHANNELS_OF_COLOR_TYPE: Record<number, number> = { 2: 3, 6: 4 };

/** Paeth predictor (PNG spec §9.4): whichever of left, up, up-left is nearest to left + up − up-left. */
function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

/** Undoes the per-scanline filters into a fresh buffer (PNG spec §9.2). */
function unfilter(raw: Uint8Array, width: number, height: number, bpp: number, where: string): Uint8Array {
  const stride = width * bpp;
  if (raw.length !== height * (stride + 1)) {
    throw new Error(`${where}: image data has ${raw.length} bytes, expected ${height * (stride + 1)}`);
  }
  const out = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const src = y * (stride + 1) + 1;
    const row = y * stride;
    const prev = row - stride;
    for (let i = 0; i < stride; i++) {
      const x = raw[src + i]!;
      const a = i >= bpp ? out[row + i - bpp]! : 0;
      const b = y > 0 ? out[prev + i]! : 0;
      const c = y > 0 && i >= bpp ? out[prev + i - bpp]! : 0;
      let v: number;
      switch (filter) {
        case 0:
          v = x;
          break;
        case 1:
          v = x + a;
          break;
        case 2:
          v = x + b;
          break;
        case 3:
          v = x + ((a + b) >> 1);
          break;
        case 4:
          v = x + paeth(a, b, c);
          break;
        default:
          throw new Error(`${where}: row ${y} has filter type ${filter}, expected 0–4`);
      }
      out[row + i] = v & 0xff;
    }
  }
  return out;
}

/** Decodes a PNG file's bytes; `where` names the file in error messages. */
export function decodePng(bytes: Uint8Array, where = 'png'): DecodedPng {
  if (bytes.length < 8 || PNG_SIGNATURE.some((b, i) => bytes[i] !== b)) {
    throw new Error(`${where}: not a PNG file (bad signature)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Uint8Array[] = [];
  let offset = 8;
  let sawEnd = false;
  while (offset + 8 <= bytes.length && !sawEnd) {
    const length = view.getUint32(offset);
    const type = String.fromCharCode(...bytes.subarray(offset + 4, offset + 8));
    const body = bytes.subarray(offset + 8, offset + 8 + length);
    if (body.length !== length) throw new Error(`${where}: chunk ${type} is cut short`);
    if (type === 'IHDR') {
      width = view.getUint32(offset + 8);
      height = view.getUint32(offset + 12);
      const [bitDepth, colorType, , , interlace] = body.subarray(8, 13);
      channels = CHANNELS_OF_COLOR_TYPE[colorType!] ?? 0;
      if (bitDepth !== 8 || channels === 0 || interlace !== 0) {
        throw new Error(
          `${where}: only 8-bit RGB/RGBA non-interlaced PNGs are read ` +
            `(got bit depth ${bitDepth}, colour type ${colorType}, interlace ${interlace})`,
        );
      }
    } else if (type === 'IDAT') {
      idat.push(body);
    } else if (type === 'IEND') {
      sawEnd = true;
    }
    offset += 12 + length; // length, type, body, CRC
  }
  if (channels === 0) throw new Error(`${where}: no IHDR chunk`);
  if (idat.length === 0) throw new Error(`${where}: no IDAT chunk`);
  const raw = inflateSync(Buffer.concat(idat));
  return { width, height, channels, data: unfilter(raw, width, height, channels, where) };
}
