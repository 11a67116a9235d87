/**
 * Service runtime of the benchmark. By default it is the deployable build from `npm run build` (gen/srv,
 * plain JavaScript) with the Node.js options that mta.yaml gives the service module on Cloud Foundry,
 * so the figures describe what ships.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { parse } from 'yaml';
import { ROOT } from '../lib/service-process';
import { progress } from '../lib/progress';

export const SERVICE_MODULE = 'survey-bridge-srv';

export interface ServiceRuntime {
  /** Runs gen/srv instead of the TypeScript sources through tsx. */
  built: boolean;
  /** Node.js options of the service module in mta.yaml. */
  nodeOptions: string;
}

/** Reads NODE_OPTIONS of the service module from mta.yaml, or an empty string when it sets none. */
export function productionNodeOptions(): string {
  const mta = parse(fs.readFileSync(path.join(ROOT, 'mta.yaml'), 'utf8'));
  const module = (mta.modules ?? []).find((entry: any) => entry.name === SERVICE_MODULE);
  if (!module) throw new Error(`mta.yaml has no module ${SERVICE_MODULE}`);
  return String(module.properties?.NODE_OPTIONS ?? '');
}

/** Joins Node.js options, leaving out empty parts. */
export function joinNodeOptions(...parts: Array<string | undefined>): string {
  return parts.filter(part => part && part.trim()).join(' ');
}

/** Runs `npm run build` with progress lines and writes its output to .run/bench-build.log. */
export async function buildService(): Promise<void> {
  const logFile = path.join(ROOT, '.run', 'bench-build.log');
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const log = fs.openSync(logFile, 'w');
  const started = Date.now();
  const ticker = setInterval(() => progress(`  npm run build: ${Math.round((Date.now() - started) / 1000)} s`), 2_000);
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', log, log] });
      child.on('exit', code => (code === 0 ? resolve() : reject(new Error(`npm run build exited with ${code}; see .run/bench-build.log`))));
      child.on('error', reject);
    });
  } finally {
    clearInterval(ticker);
    fs.closeSync(log);
  }
}
