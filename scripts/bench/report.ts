/** The benchmark's summary table: one row per figure with its target and whether it was met. */
import fs from 'node:fs';
import os from 'node:os';

export interface Row {
  figure: string;
  value: string;
  target?: string;
  /** true when the target is met, false when missed, undefined when the row has no target. */
  met?: boolean;
}

export function formatNumber(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Rounds to `digits` decimals for the JSON line. NaN and Infinity become null. */
export function rounded(value: number, digits = 1): number | null {
  if (!Number.isFinite(value)) return null;
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

export function printRows(title: string, rows: Row[]): void {
  if (!rows.length) return;
  const header: Row = { figure: 'figure', value: 'measured', target: 'target' };
  const width = (pick: (row: Row) => string) => Math.max(...[header, ...rows].map(row => pick(row).length));
  const figureWidth = width(row => row.figure);
  const valueWidth = width(row => row.value);
  const targetWidth = width(row => row.target ?? '');
  const line = (row: Row, result: string) =>
    `  ${row.figure.padEnd(figureWidth)}  ${row.value.padStart(valueWidth)}  ${(row.target ?? '').padEnd(targetWidth)}  ${result}`.trimEnd();
  console.log(`\n${title}`);
  console.log(line(header, 'result'));
  for (const row of rows) console.log(line(row, row.met === undefined ? '' : row.met ? 'pass' : 'MISS'));
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGb: number;
  node: string;
  platform: string;
}

/** Reads the CPU model and memory from /proc where it exists, else from os. */
export function machineInfo(): MachineInfo {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  let memoryKb = os.totalmem() / 1024;
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpu;
    memoryKb = Number(/^MemTotal:\s+(\d+) kB$/m.exec(fs.readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? memoryKb);
  } catch {
    // Not Linux: os values stay.
  }
  return { cpu, cores: os.availableParallelism(), memoryGb: Math.round(memoryKb / 1024 / 1024 * 10) / 10, node: process.version, platform: `${os.platform()} ${os.release()}` };
}
