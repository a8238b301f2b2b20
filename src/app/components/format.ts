// Number and time formatting shared by the panels.

const KIB = 1024;
const MIB = KIB * 1024;
const GIB = MIB * 1024;

/** 988097824 → "942 MiB"; 5e9 → "4.66 GiB". */
export function formatBytes(bytes: number): string {
  if (bytes >= GIB) return `${(bytes / GIB).toFixed(2)} GiB`;
  if (bytes >= MIB) return `${Math.round(bytes / MIB)} MiB`;
  if (bytes >= KIB) return `${Math.round(bytes / KIB)} KiB`;
  return `${bytes} B`;
}

/** 75 → "1 min 15 s"; 4000 → "1 h 07 min". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/** A short label for a chart value: 3 significant digits, exponent form for tiny values. */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v !== 0 && Math.abs(v) < 0.01) return v.toExponential(1);
  if (Math.abs(v) >= 10_000) return v.toExponential(2);
  return String(Number(v.toPrecision(3)));
}

export function formatPercent(v: number): string {
  return `${(v * 100).toFixed(1)}%`;
}

/** A run id from the local time it was started: "run-20250614-093005". */
export function runIdFor(date: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  const day = `${date.getFullYear()}${two(date.getMonth() + 1)}${two(date.getDate())}`;
  const time = `${two(date.getHours())}${two(date.getMinutes())}${two(date.getSeconds())}`;
  return `run-${day}-${time}`;
}
