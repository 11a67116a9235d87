import cds from '@sap/cds';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

const ROOT = path.join(__dirname, '..');
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');

const mta = parse(read('mta.yaml'));
const security = JSON.parse(read('xs-security.json'));
const pkg = JSON.parse(read('package.json'));

const modules: any[] = mta.modules;
const resources: any[] = mta.resources;
const moduleNamed = (name: string) => modules.find(module => module.name === name);
const resourceNamed = (name: string) => resources.find(resource => resource.name === name);

/** Roles that CAP or XSUAA define themselves, so they need no scope of their own. */
const BUILT_IN_ROLES = new Set(['authenticated-user', 'any', 'system-user', 'internal-user']);

describe('mta.yaml', () => {
  test('names are unique', () => {
    const names = [...modules, ...resources].map(entry => entry.name);
    expect(new Set(names).size).toBe(names.length);
  });

  test('every requires names a resource or a provided dependency', () => {
    const provided = new Set(modules.flatMap(module => (module.provides ?? []).map((entry: any) => entry.name)));
    const resourceNames = new Set(resources.map(resource => resource.name));
    for (const module of modules) {
      for (const { name } of module.requires ?? []) expect([module.name, resourceNames.has(name) || provided.has(name)]).toEqual([module.name, true]);
    }
  });

  test('every resource is used by a module or grants a scope', () => {
    const required = new Set(modules.flatMap(module => (module.requires ?? []).map((entry: any) => entry.name)));
    const granted = JSON.stringify(security.scopes);
    for (const { name } of resources) expect([name, required.has(name) || granted.includes(`$XSSERVICENAME(${name})`)]).toEqual([name, true]);
  });

  test('build step runs the npm build script', () => {
    const commands: string[] = mta['build-parameters']['before-all'].flatMap((step: any) => step.commands);
    expect(commands).toContain('npm run build');
    expect(pkg.scripts.build).toContain('cds build --production');
    expect(pkg.scripts.build).toContain('tsc -p tsconfig.build.json');
  });

  test('service heap limit leaves room inside the memory quota', () => {
    const srv = moduleNamed('survey-bridge-srv');
    const heapMb = Number(/--max-old-space-size=(\d+)/.exec(String(srv.properties?.NODE_OPTIONS))?.[1]);
    const quotaMb = Number(/^(\d+)M$/.exec(String(srv.parameters?.memory))?.[1]);
    expect(heapMb).toBeGreaterThan(0);
    // Code, buffers and the SQLite or HANA client live outside the V8 heap.
    expect(heapMb).toBeLessThanOrEqual(quotaMb / 2);
  });

  test('service module ships the compiled gen/srv', () => {
    const srv = moduleNamed('survey-bridge-srv');
    expect(srv.type).toBe('nodejs');
    expect(srv.path).toBe('gen/srv');
    expect(JSON.parse(read('tsconfig.build.json')).compilerOptions.outDir).toBe('gen/srv');
  });

  test('database deployer ships gen/db to the HDI container', () => {
    const deployer = moduleNamed('survey-bridge-db-deployer');
    expect(deployer.type).toBe('hdb');
    expect(deployer.path).toBe('gen/db');
    expect(resourceNamed('survey-bridge-db').type).toBe('com.sap.xs.hdi-container');
  });

  test('source paths exist', () => {
    for (const module of modules.filter(entry => !entry.path.startsWith('gen/'))) expect(fs.existsSync(path.join(ROOT, module.path))).toBe(true);
    for (const resource of resources.filter(entry => entry.parameters?.path)) expect(fs.existsSync(path.join(ROOT, resource.parameters.path))).toBe(true);
  });

  test('service binds exactly one XSUAA instance', () => {
    const bound = moduleNamed('survey-bridge-srv').requires.map((entry: any) => resourceNamed(entry.name)).filter(Boolean);
    const xsuaa = bound.filter((resource: any) => resource.parameters?.service === 'xsuaa');
    expect(xsuaa.map((resource: any) => resource.name)).toEqual(['survey-bridge-auth']);
  });

  test('XSUAA resource uses xs-security.json', () => {
    expect(resourceNamed('survey-bridge-auth').parameters.path).toBe('./xs-security.json');
  });

  test('inbound callers service matches the cds binding', () => {
    const resource = resourceNamed('survey-bridge-inbound-callers');
    expect(resource.type).toBe('org.cloudfoundry.existing-service');
    expect(resource.parameters['service-name']).toBe(pkg.cds.requires.inboundCallers.vcap.name);
  });

  test('router destinations match xs-app.json routes', () => {
    const router = moduleNamed('survey-bridge');
    const destinations = JSON.parse(router.properties.destinations).map((entry: any) => entry.name);
    const routes = JSON.parse(read(path.join(router.path, 'xs-app.json'))).routes;
    for (const route of routes) expect(destinations).toContain(route.destination);
  });
});

describe('xs-security.json', () => {
  const scopes = new Set<string>(security.scopes.map((scope: any) => scope.name));
  const templates = new Set<string>(security['role-templates'].map((template: any) => template.name));

  test('every scope has a role template', () => {
    const referenced = new Set(security['role-templates'].flatMap((template: any) => template['scope-references']));
    for (const scope of scopes) expect([scope, referenced.has(scope)]).toEqual([scope, true]);
  });

  test('role templates reference existing scopes', () => {
    for (const template of security['role-templates']) {
      for (const scope of template['scope-references']) expect([template.name, scopes.has(scope)]).toEqual([template.name, true]);
    }
  });

  test('role collections reference existing templates', () => {
    for (const collection of security['role-collections']) {
      for (const reference of collection['role-template-references']) {
        expect(reference.startsWith('$XSAPPNAME.')).toBe(true);
        expect([collection.name, templates.has(reference.slice('$XSAPPNAME.'.length))]).toEqual([collection.name, true]);
      }
    }
  });

  test('granted scopes go to client resources that accept them', () => {
    for (const scope of security.scopes.filter((entry: any) => entry['grant-as-authority-to-apps'])) {
      for (const grantee of scope['grant-as-authority-to-apps']) {
        const name = /^\$XSSERVICENAME\((.+)\)$/.exec(grantee)?.[1];
        const resource = resourceNamed(name ?? '');
        expect([grantee, resource?.parameters?.service]).toEqual([grantee, 'xsuaa']);
        expect(resource.parameters.config.authorities).toContain('$ACCEPT_GRANTED_AUTHORITIES');
      }
    }
  });

  test('every role in the CDS model has a scope', async () => {
    const model = await cds.load('*', { cwd: ROOT } as any);
    const roles = new Set<string>();
    const collect = (definition: any) => {
      for (const role of [definition['@requires'] ?? []].flat()) roles.add(role);
      for (const rule of definition['@restrict'] ?? []) for (const role of [rule.to ?? []].flat()) roles.add(role);
    };
    for (const definition of Object.values<any>(model.definitions ?? {})) {
      collect(definition);
      for (const action of Object.values<any>(definition.actions ?? {})) collect(action);
    }
    const unmapped = [...roles].filter(role => !BUILT_IN_ROLES.has(role) && !scopes.has(`$XSAPPNAME.${role}`));
    expect(roles.size).toBeGreaterThan(0);
    expect(unmapped).toEqual([]);
  });
});
