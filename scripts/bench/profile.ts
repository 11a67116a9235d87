/**
 * Summarizes a V8 .cpuprofile (written by `node --cpu-prof`): self time per function and per code
 * owner (project file, npm package, Node.js internals), with idle time left out of the shares.
 */
import fs from 'node:fs';
import { ROOT } from '../lib/service-process';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  /** Microseconds since the previous sample. */
  timeDeltas: number[];
}

export interface ProfileEntry {
  name: string;
  /** Self time in milliseconds. */
  selfMs: number;
  /** Share of the busy (non-idle) time in percent. */
  percent: number;
}

export interface ProfileSummary {
  file: string;
  /** Wall time the profile covers, in seconds. */
  seconds: number;
  /** Sampled time that was not idle, in seconds. */
  busySeconds: number;
  topFunctions: ProfileEntry[];
  byOwner: ProfileEntry[];
}

/** V8 pseudo frames that stand for no JavaScript function. */
const IDLE_FRAMES = new Set(['(idle)']);

/** Shortens a script URL to a project-relative path or `package/file`. */
function shortLocation(url: string): string {
  if (!url) return '';
  const file = url.replace(/^file:\/\//, '');
  const nodeModules = file.lastIndexOf('/node_modules/');
  if (nodeModules >= 0) return file.slice(nodeModules + '/node_modules/'.length);
  // The build in gen/srv keeps the source layout, so its frames count for srv/ as well.
  if (file.startsWith(`${ROOT}/`)) return file.slice(ROOT.length + 1).replace(/^gen\/srv\//, '');
  return file;
}

/** Names the owner of a frame: the npm package, the project folder, Node.js or a V8 pseudo frame. */
function ownerOf(frame: ProfileNode['callFrame']): string {
  const url = frame.url;
  if (!url) return frame.functionName.startsWith('(') ? frame.functionName : '(native)';
  if (url.startsWith('node:')) return 'node: internals';
  const location = shortLocation(url);
  if (url.includes('/node_modules/')) {
    const parts = location.split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  return location.split('/')[0] || location;
}

export function summarizeProfile(file: string, top = 15): ProfileSummary {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const nodes = new Map(profile.nodes.map(node => [node.id, node]));
  const selfMicros = new Map<number, number>();
  profile.samples.forEach((id, index) => selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0)));

  const byFunction = new Map<string, number>();
  const byOwner = new Map<string, number>();
  let busyMicros = 0;
  for (const [id, micros] of selfMicros) {
    const frame = nodes.get(id)!.callFrame;
    if (IDLE_FRAMES.has(frame.functionName)) continue;
    busyMicros += micros;
    const location = frame.url ? ` ${shortLocation(frame.url)}:${frame.lineNumber + 1}` : '';
    const name = `${frame.functionName || '(anonymous)'}${location}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + micros);
    const owner = ownerOf(frame);
    byOwner.set(owner, (byOwner.get(owner) ?? 0) + micros);
  }
  const entries = (map: Map<string, number>, count: number): ProfileEntry[] =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, count)
      .map(([name, micros]) => ({ name, selfMs: Math.round(micros / 1000), percent: Math.round((micros / busyMicros) * 1000) / 10 }));
  return {
    file,
    seconds: Math.round((profile.endTime - profile.startTime) / 100_000) / 10,
    busySeconds: Math.round(busyMicros / 100_000) / 10,
    topFunctions: entries(byFunction, top),
    byOwner: entries(byOwner, 10)
  };
}

/** Prints a summary as two short lists. */
export function printProfile(title: string, summary: ProfileSummary): void {
  console.log(`\n${title}: ${summary.busySeconds} s busy of ${summary.seconds} s (${summary.file})`);
  console.log('  self time by owner');
  for (const entry of summary.byOwner) console.log(`    ${String(entry.percent).padStart(5)} %  ${entry.name}`);
  console.log('  top functions by self time');
  for (const entry of summary.topFunctions) console.log(`    ${String(entry.percent).padStart(5)} %  ${entry.name}`);
}
