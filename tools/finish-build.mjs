/**
 * Last step of `npm run build`, after `cds build --production` and `tsc -p tsconfig.build.json`:
 * turns gen/srv into a deployable Node.js app. It removes the TypeScript sources that cds build
 * copied, fails when a source has no compiled .js, copies the UI files from app/ (the models are
 * already in srv/csn.json), and pins Node.js 22 for the Cloud Foundry buildpack.
 */
import fs from 'node:fs';
import path from 'node:path';

const root = process.cwd();
const target = path.join(root, 'gen', 'srv');

/** Lists the files under a folder, recursively, as paths relative to it. */
function filesUnder(folder) {
  if (!fs.existsSync(folder)) return [];
  return fs.readdirSync(folder, { recursive: true, withFileTypes: true })
    .filter(entry => entry.isFile())
    .map(entry => path.relative(folder, path.join(entry.parentPath, entry.name)));
}

function fail(message) {
  console.error(`finish-build: ${message}`);
  process.exit(1);
}

if (!fs.existsSync(path.join(target, 'srv', 'csn.json'))) fail('gen/srv/srv/csn.json is missing; run cds build --production first');

// cds build copies srv/ as it is, .ts files included, but only the compiled .js files may ship.
for (const file of filesUnder(path.join(target, 'srv'))) {
  if (file.endsWith('.ts') && !file.endsWith('.d.ts')) fs.rmSync(path.join(target, 'srv', file));
}
fs.rmSync(path.join(target, 'jest.config.js'), { force: true });

const missing = filesUnder(path.join(root, 'srv'))
  .filter(file => file.endsWith('.ts') && !file.endsWith('.d.ts'))
  .filter(file => !fs.existsSync(path.join(target, 'srv', file.replace(/\.ts$/, '.js'))));
if (missing.length) fail(`no compiled .js for ${missing.join(', ')}; check tsconfig.build.json`);

// Type models from cds-typer, for `#cds-models/*` imports at runtime.
for (const file of filesUnder(path.join(root, '@cds-models')).filter(file => file.endsWith('.js'))) {
  const destination = path.join(target, '@cds-models', file);
  fs.mkdirSync(path.dirname(destination), { recursive: true });
  fs.copyFileSync(path.join(root, '@cds-models', file), destination);
}

// The server serves app/ as static files. Its .cds files are compiled into srv/csn.json already.
fs.rmSync(path.join(target, 'app'), { recursive: true, force: true });
for (const file of filesUnder(path.join(root, 'app')).filter(file => !file.endsWith('.cds'))) {
  const destination = path.join(target, 'app', file);
  fs.mkdirSync(path.dirname(destination), { recursive: true });
  fs.copyFileSync(path.join(root, 'app', file), destination);
}

// engines ">=22" would let the buildpack choose a later major, but the service is tested on Node.js 22.
const manifestFile = path.join(target, 'package.json');
const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
manifest.engines = { ...manifest.engines, node: '^22' };
fs.writeFileSync(manifestFile, JSON.stringify(manifest, null, 2) + '\n');

console.log(`finish-build: gen/srv is ready (${filesUnder(path.join(target, 'srv')).filter(file => file.endsWith('.js')).length} .js files)`);
