import { spawnSync } from 'node:child_process';
import path from 'node:path';

test('demo with 80 contacts completes the whole loop', () => {
  const root = path.join(__dirname, '..');
  const result = spawnSync(path.join(root, 'node_modules', '.bin', 'tsx'), ['scripts/demo.ts', '--contacts', '80', '--respond-share', '0.6', '--latency-ms', '5'], {
    cwd: root, encoding: 'utf8', timeout: 120_000, env: { ...process.env, PATH: `${path.join(root, 'node_modules', '.bin')}:${process.env.PATH}` }
  });
  expect(result.status).toBe(0);
  const lines = result.stdout.trim().split('\n');
  const summary = JSON.parse(lines[lines.length - 1]);
  expect(summary.invited).toBe(80);
  expect(summary.unfinished).toBe(0);
  expect(summary.eventsTriggered).toBeGreaterThan(60);
  expect(summary.responses).toBeGreaterThan(10);
  expect(summary.scoresStored).toBe(summary.responses - summary.invalidAnswers);
  expect(summary.npsStored).toBe(summary.npsSent);
  expect(summary.duplicateTriggers).toBe(0);
  expect(summary.upstreamCalls.emarsys.triggerBatch).toBeGreaterThan(0);
}, 150_000);
