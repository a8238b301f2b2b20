// Downloads from the page: files through an <a download> with an object URL, the adapter as a zip,
// tables as CSV and charts as PNG images.

import { zipSync } from 'fflate';

/** A CSV field: quoted when it holds a comma, quote or line break (RFC 4180). */
function csvField(value: string | number): string {
  const s = String(value);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** Rows as CSV text, one line each, ending in a line break. */
export const csvText = (rows: (string | number)[][]): string => `${rows.map((r) => r.map(csvField).join(',')).join('\n')}\n`;

export function downloadBlob(fileName: string, blob: Blob): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  document.body.append(link);
  link.click();
  link.remove();
  // The click has started the download; the URL is only needed until then.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export function downloadText(fileName: string, text: string, type: string): void {
  downloadBlob(fileName, new Blob([text], { type }));
}

export function downloadBytes(fileName: string, bytes: Uint8Array, type = 'application/octet-stream'): void {
  downloadBlob(fileName, new Blob([bytes.slice()], { type }));
}

/** A zip of the files, stored without nesting (safetensors barely compress, so level 1). */
export function zipFiles(files: { name: string; bytes: Uint8Array }[]): Uint8Array {
  return zipSync(Object.fromEntries(files.map((f) => [f.name, f.bytes])), { level: 1 });
}

export interface LegendEntry {
  label: string;
  color: string;
}

const PNG_SCALE = 2;
const TITLE_HEIGHT = 28;
const LEGEND_HEIGHT = 24;

/**
 * A chart's <svg> as a PNG: drawn onto a canvas with a white background (the SVG's own is
 * transparent), with the title above and the legend below since both live outside the SVG.
 */
export async function chartPng(svg: SVGSVGElement, title: string, legend: LegendEntry[]): Promise<Blob> {
  const { width, height } = svg.getBoundingClientRect();
  const copy = svg.cloneNode(true) as SVGSVGElement;
  copy.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
  copy.setAttribute('width', String(width));
  copy.setAttribute('height', String(height));
  // Outside the page the SVG no longer inherits its font.
  copy.setAttribute('font-family', 'system-ui, sans-serif');
  const svgUrl = URL.createObjectURL(new Blob([new XMLSerializer().serializeToString(copy)], { type: 'image/svg+xml' }));
  try {
    const image = new Image();
    image.src = svgUrl;
    await image.decode();

    const canvas = document.createElement('canvas');
    canvas.width = Math.ceil(width * PNG_SCALE);
    canvas.height = Math.ceil((TITLE_HEIGHT + height + LEGEND_HEIGHT) * PNG_SCALE);
    const ctx = canvas.getContext('2d')!;
    ctx.scale(PNG_SCALE, PNG_SCALE);
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, width, TITLE_HEIGHT + height + LEGEND_HEIGHT);
    ctx.fillStyle = '#222';
    ctx.font = '600 14px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    ctx.fillText(title, 8, TITLE_HEIGHT / 2);
    ctx.drawImage(image, 0, TITLE_HEIGHT, width, height);

    ctx.font = '12px system-ui, sans-serif';
    let x = 8;
    const y = TITLE_HEIGHT + height + LEGEND_HEIGHT / 2;
    for (const entry of legend) {
      ctx.fillStyle = entry.color;
      ctx.fillRect(x, y - 2, 14, 4);
      ctx.fillStyle = '#222';
      ctx.fillText(entry.label, x + 18, y);
      x += 18 + ctx.measureText(entry.label).width + 16;
    }

    return await new Promise<Blob>((resolve, reject) =>
      canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('The chart could not be drawn as PNG.'))), 'image/png'),
    );
  } finally {
    URL.revokeObjectURL(svgUrl);
  }
}
