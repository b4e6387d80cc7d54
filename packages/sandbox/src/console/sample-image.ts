/**
 * A small real picture (PNG) for customers to send from the console and the demo: a parcel with
 * its shipping label. Drawn here, so the sandbox carries no binary file and works offline.
 */
import { crc32, deflateSync } from 'node:zlib';

type Rgb = readonly [number, number, number];

const WIDTH = 240;
const HEIGHT = 160;

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/** Encodes RGB pixels (row-major) as a PNG. */
export function encodePng(width: number, height: number, pixel: (x: number, y: number) => Rgb): Uint8Array {
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    raw[row] = 0; // filter: none
    for (let x = 0; x < width; x++) {
      const [r, g, b] = pixel(x, y);
      raw[row + 1 + x * 3] = r;
      raw[row + 2 + x * 3] = g;
      raw[row + 3 + x * 3] = b;
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // colour type: RGB
  const png = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
  return new Uint8Array(png);
}

const inside = (x: number, y: number, x0: number, y0: number, x1: number, y1: number) =>
  x >= x0 && x < x1 && y >= y0 && y < y1;

/** The parcel photo: 240×160 PNG, about 2 KB. */
export function parcelPhoto(): Uint8Array {
  return encodePng(WIDTH, HEIGHT, (x, y) => {
    // Label with a barcode and two lines of "text".
    if (inside(x, y, 130, 58, 206, 118)) {
      if (inside(x, y, 138, 66, 198, 92)) return (x * 7) % 5 < 2 ? [20, 20, 20] : [250, 250, 245];
      if (inside(x, y, 138, 98, 190, 101) || inside(x, y, 138, 106, 176, 109)) return [90, 90, 90];
      return [250, 250, 245];
    }
    // Tape across the box.
    if (inside(x, y, 40, 70, 210, 84)) return [214, 190, 140];
    // The box, lighter on top.
    if (inside(x, y, 40, 30, 210, 48)) return [205, 160, 105];
    if (inside(x, y, 40, 48, 210, 140)) return [184, 134, 84];
    // Table and wall.
    return y > 130 ? [120, 96, 74] : [232, 236, 240];
  });
}
