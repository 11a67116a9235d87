/**
 * Serves the SAPUI5 libraries installed from npm (@openui5/*, @sapui5/*) under /resources and
 * /test-resources, so the audit UI and the CAP Fiori preview load UI5 from this server and not from a CDN.
 *
 * The npm packages contain library sources, not a built runtime: the themes are Less files and there
 * are no library-preload.js bundles. Like the UI5 CLI's development server, this module compiles each
 * requested theme with less-openui5 and serves every other file as it is, so the browser loads modules
 * one by one. Compiled themes are cached on disk under node_modules/.cache/ui5-themes, keyed by the
 * package versions. The packages are devDependencies: where they are not installed (a production
 * install), nothing is mounted and the UI5 location must come from elsewhere.
 */
import cds from '@sap/cds';
import express from 'express';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const LOG = cds.log('ui5-resources');

const PACKAGE_SCOPES = ['@openui5', '@sapui5'];

/** One installed UI5 library or theme library package. */
export interface Ui5Package {
  name: string;
  version: string;
  /** Folder served under /resources. */
  sourceRoot: string;
  /** Folder served under /test-resources, if the package has one. */
  testRoot?: string;
  /** Encoding of the package's .properties files, from its ui5.yaml. */
  propertiesEncoding: 'UTF-8' | 'ISO-8859-1';
  /** UI5 library name from the package's .library file. Theme libraries have none. */
  library?: string;
  /** The library's .library file, absolute. */
  dotLibraryFile?: string;
}

/** The subset of the less-openui5 Builder API used here; the package ships no type definitions. */
interface LessBuilder {
  build(options: {
    lessInputPath: string;
    rootPaths: string[];
    library?: { name: string };
    rtl?: boolean;
    cssVariables?: boolean;
  }): Promise<{
    css: string;
    cssRtl: string;
    variables: Record<string, string>;
    cssVariablesSource?: string;
    cssVariables?: string;
    cssSkeleton?: string;
    cssSkeletonRtl?: string;
  }>;
}

/** Reads `resources.configuration.paths` and the properties encoding from a package's ui5.yaml. */
function readUi5Yaml(packageDir: string): { src: string; test: string; propertiesEncoding: 'UTF-8' | 'ISO-8859-1' } {
  const result = { src: 'src', test: 'test', propertiesEncoding: 'UTF-8' as 'UTF-8' | 'ISO-8859-1' };
  const file = path.join(packageDir, 'ui5.yaml');
  if (!fs.existsSync(file)) return result;

  // The ui5.yaml files of the UI5 packages use plain block mappings, so the indentation under
  // `resources:` identifies its keys. A YAML parser would be one more dependency for three values.
  let section = '';
  for (const line of fs.readFileSync(file, 'utf8').split(/\r?\n/)) {
    if (/^\S/.test(line)) section = line.replace(/:.*$/, '');
    if (section !== 'resources') continue;
    const match = /^\s+(src|test|propertiesFileSourceEncoding):\s*['"]?([^'"\s]+)/.exec(line);
    if (!match) continue;
    if (match[1] === 'propertiesFileSourceEncoding') {
      result.propertiesEncoding = /^(ISO-8859-1|latin1)$/i.test(match[2]) ? 'ISO-8859-1' : 'UTF-8';
    } else {
      result[match[1] as 'src' | 'test'] = match[2];
    }
  }
  return result;
}

/** Finds the first .library file below `root`, searching at most `depth` folders deep. */
function findDotLibrary(root: string, depth = 6): string | undefined {
  const dotLibrary = path.join(root, '.library');
  if (fs.existsSync(dotLibrary)) return dotLibrary;
  if (depth === 0) return undefined;
  for (const entry of fs.readdirSync(root, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name === 'themes' || entry.name === 'thirdparty') continue;
    const found = findDotLibrary(path.join(root, entry.name), depth - 1);
    if (found) return found;
  }
  return undefined;
}

/** Lists the UI5 packages installed in `<projectRoot>/node_modules`, in name order. */
export function findUi5Packages(projectRoot: string = cds.root): Ui5Package[] {
  const packages: Ui5Package[] = [];
  for (const scope of PACKAGE_SCOPES) {
    const scopeDir = path.join(projectRoot, 'node_modules', scope);
    if (!fs.existsSync(scopeDir)) continue;
    for (const entry of fs.readdirSync(scopeDir).sort()) {
      const packageDir = path.join(scopeDir, entry);
      if (!fs.existsSync(path.join(packageDir, 'ui5.yaml'))) continue;
      const { version } = JSON.parse(fs.readFileSync(path.join(packageDir, 'package.json'), 'utf8'));
      const layout = readUi5Yaml(packageDir);
      const sourceRoot = path.join(packageDir, layout.src);
      if (!fs.existsSync(sourceRoot)) continue;
      const testRoot = path.join(packageDir, layout.test);
      const dotLibraryFile = findDotLibrary(sourceRoot);
      packages.push({
        name: `${scope}/${entry}`,
        version,
        sourceRoot,
        testRoot: fs.existsSync(testRoot) ? testRoot : undefined,
        propertiesEncoding: layout.propertiesEncoding,
        library: dotLibraryFile && /<name>([^<]+)<\/name>/.exec(fs.readFileSync(dotLibraryFile, 'utf8'))?.[1],
        dotLibraryFile
      });
    }
  }
  return packages;
}

/** Builds the content of sap-ui-version.json, which `sap/ui/VersionInfo` reads. */
export function versionInfo(packages: Ui5Package[]): object {
  const core = packages.find(pkg => pkg.library === 'sap.ui.core');
  return {
    name: 'survey-bridge-ui5-resources',
    version: core?.version ?? '',
    buildTimestamp: '',
    scmRevision: '',
    libraries: packages
      .filter(pkg => pkg.library)
      .map(pkg => ({ name: pkg.library, version: pkg.version, buildTimestamp: '', scmRevision: '' }))
  };
}

/**
 * Builds a library's manifest.json from its .library file: the dependencies and the locales of its
 * message bundle. The packages ship only .library, and without a manifest the UI5 runtime requests
 * bundles for locales that do not exist. The UI5 CLI's server generates a fuller manifest the same way.
 */
export function libraryManifest(pkg: Ui5Package): object | undefined {
  if (!pkg.library || !pkg.dotLibraryFile) return undefined;
  const dotLibrary = fs.readFileSync(pkg.dotLibraryFile, 'utf8');
  const dependencies: Record<string, { lazy?: boolean }> = {};
  const dependencyList = /<dependencies>([\s\S]*?)<\/dependencies>/.exec(dotLibrary)?.[1] ?? '';
  for (const [, dependency] of dependencyList.matchAll(/<dependency>([\s\S]*?)<\/dependency>/g)) {
    const name = /<libraryName>([^<]+)<\/libraryName>/.exec(dependency)?.[1];
    if (name) dependencies[name] = /<lazy>\s*true\s*<\/lazy>/.test(dependency) ? { lazy: true } : {};
  }

  const libraryDir = path.dirname(pkg.dotLibraryFile);
  const locales = fs
    .readdirSync(libraryDir)
    .map(file => /^messagebundle(?:_([A-Za-z_]+))?\.properties$/.exec(file))
    .filter(match => match !== null)
    .map(match => match[1] ?? '')
    .sort();
  return {
    _version: '1.21.0',
    'sap.app': { id: pkg.library, type: 'library', applicationVersion: { version: pkg.version } },
    'sap.ui': { technology: 'UI5' },
    'sap.ui5': {
      dependencies: { libs: dependencies },
      library: { i18n: locales.length ? { bundleUrl: 'messagebundle.properties', supportedLocales: locales } : false }
    }
  };
}

// Files of a theme folder that are built from its library.source.less.
const THEME_FILE = /^\/(.+)\/themes\/([^/]+)\/(library\.css|library-RTL\.css|library-parameters\.json|css_variables\.css|css_variables\.source\.less|library_skeleton\.css|library_skeleton-RTL\.css)$/;
const CSS_VARIABLES_FILES = new Set(['css_variables.css', 'css_variables.source.less', 'library_skeleton.css', 'library_skeleton-RTL.css']);
const RTL_FILES = new Set(['library-RTL.css', 'library_skeleton-RTL.css']);

/** Outputs of a theme build besides library.css and library-parameters.json. */
interface ThemeVariant {
  /**
   * Mirrored CSS for right-to-left languages. It makes a build about 2.5 times slower (measured on the
   * sap.ui.core, sap.m, sap.f and sap.ui.mdc themes), so it is built only when an RTL file is requested.
   */
  rtl: boolean;
  /** CSS variables and the skeleton CSS that UI5 requests when it runs with CSS variables. */
  cssVariables: boolean;
}

/** Compiles library themes on request and keeps the results in memory and in a disk cache. */
class ThemeCompiler {
  private builder?: LessBuilder;
  private readonly pending = new Map<string, Promise<Record<string, string> | undefined>>();
  private readonly roots: string[];
  private readonly cacheDir: string;

  constructor(packages: Ui5Package[], projectRoot: string) {
    this.roots = packages.map(pkg => pkg.sourceRoot);
    const key = createHash('sha256')
      .update(packages.map(pkg => `${pkg.name}@${pkg.version}`).join('\n'))
      .digest('hex')
      .slice(0, 16);
    this.cacheDir = path.join(projectRoot, 'node_modules', '.cache', 'ui5-themes', key);
  }

  /** Returns the built files of one library theme folder, or undefined if it has no library.source.less. */
  files(themeDir: string, variant: ThemeVariant): Promise<Record<string, string> | undefined> {
    const suffix = `${variant.rtl ? '.rtl' : ''}${variant.cssVariables ? '.variables' : ''}`;
    const key = `${themeDir}${suffix}`;
    let result = this.pending.get(key);
    if (!result) {
      result = this.load(themeDir, variant, path.join(this.cacheDir, `${key}.json`));
      this.pending.set(key, result);
      // A failed build is retried on the next request.
      result.catch(() => this.pending.delete(key));
    }
    return result;
  }

  private async load(themeDir: string, variant: ThemeVariant, cacheFile: string): Promise<Record<string, string> | undefined> {
    const source = `${themeDir}/library.source.less`;
    if (!this.roots.some(root => fs.existsSync(path.join(root, source)))) return undefined;

    try {
      return JSON.parse(await fs.promises.readFile(cacheFile, 'utf8'));
    } catch {
      // The theme is not cached yet, or its cache file is unreadable, so it is built below.
    }

    const started = Date.now();
    this.builder ??= new (require('less-openui5').Builder)() as LessBuilder;
    const libraryName = themeDir.replace(/\/themes\/[^/]+$/, '').replace(/\//g, '.');
    const result = await this.builder.build({
      lessInputPath: source,
      rootPaths: this.roots,
      library: { name: libraryName },
      rtl: variant.rtl,
      cssVariables: variant.cssVariables
    });
    const files: Record<string, string> = {
      'library.css': result.css,
      'library-parameters.json': JSON.stringify(result.variables)
    };
    if (variant.rtl) files['library-RTL.css'] = result.cssRtl;
    if (variant.cssVariables) {
      files['css_variables.source.less'] = result.cssVariablesSource ?? '';
      files['css_variables.css'] = result.cssVariables ?? '';
      files['library_skeleton.css'] = result.cssSkeleton ?? '';
      if (variant.rtl) files['library_skeleton-RTL.css'] = result.cssSkeletonRtl ?? '';
    }
    LOG.debug('compiled theme', themeDir, variant, 'in', Date.now() - started, 'ms');

    try {
      await fs.promises.mkdir(path.dirname(cacheFile), { recursive: true });
      await fs.promises.writeFile(cacheFile, JSON.stringify(files));
    } catch (error) {
      LOG.warn('could not write theme cache file', cacheFile, error);
    }
    return files;
  }
}

const CONTENT_TYPES: Record<string, string> = {
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.less': 'text/plain; charset=utf-8'
};

/** Creates the middleware that serves the built theme files under /resources. */
function serveThemes(compiler: ThemeCompiler): express.RequestHandler {
  return (req, res, next) => {
    const match = THEME_FILE.exec(req.path);
    if (!match || (req.method !== 'GET' && req.method !== 'HEAD')) return next();
    const [, libraryPath, theme, file] = match;
    compiler
      .files(`${libraryPath}/themes/${theme}`, { rtl: RTL_FILES.has(file), cssVariables: CSS_VARIABLES_FILES.has(file) })
      .then(files => {
        if (!files) return next();
        res.type(CONTENT_TYPES[path.extname(file)]).send(files[file]);
      })
      .catch(error => {
        LOG.error('theme build failed for', req.path, error);
        next(error);
      });
  };
}

/** Static file options: revalidated on every request, and the .properties encoding from the package. */
function staticOptions(pkg: Ui5Package): Parameters<typeof express.static>[1] {
  return {
    fallthrough: true,
    index: false,
    setHeaders: (res, file) => {
      res.setHeader('Cache-Control', 'no-cache');
      if (file.endsWith('.properties')) res.setHeader('Content-Type', `text/plain; charset=${pkg.propertiesEncoding}`);
    }
  };
}

/**
 * Mounts /resources and /test-resources on `app` for the UI5 packages installed in the project.
 * Returns the number of packages served; 0 means no UI5 package is installed and nothing was mounted.
 */
export function mountUi5Resources(app: express.Application, projectRoot: string = cds.root): number {
  const packages = findUi5Packages(projectRoot);
  if (!packages.length) {
    LOG.info('no @openui5 or @sapui5 package installed, so /resources is not served');
    return 0;
  }
  const core = packages.find(pkg => pkg.library === 'sap.ui.core');
  if (!core) LOG.warn('the UI5 packages do not include @openui5/sap.ui.core, so sap-ui-core.js is missing');

  // @sap/cds-fiori 2.3 sends the preview's Component.js with res.send(string), which Express labels
  // text/html. Browsers refuse to run a script of that type when the response also carries
  // `X-Content-Type-Options: nosniff`, so the type is set before the preview router responds.
  app.use(/^\/\$fiori-preview\/.+\.js$/, (_req, res, next) => {
    res.type('application/javascript');
    next();
  });

  const info = JSON.stringify(versionInfo(packages));
  app.get('/resources/sap-ui-version.json', (_req, res) => {
    res.type('application/json').send(info);
  });
  for (const pkg of packages) {
    const manifest = libraryManifest(pkg);
    const manifestPath = path.relative(pkg.sourceRoot, path.dirname(pkg.dotLibraryFile ?? '')).split(path.sep).join('/');
    if (!manifest || fs.existsSync(path.join(pkg.sourceRoot, manifestPath, 'manifest.json'))) continue;
    const body = JSON.stringify(manifest);
    app.get(`/resources/${manifestPath}/manifest.json`, (_req, res) => {
      res.type('application/json').send(body);
    });
  }
  app.use('/resources', serveThemes(new ThemeCompiler(packages, projectRoot)));
  // Package folders do not overlap, except that theme libraries add themes/ folders to other
  // libraries' namespaces, so the first package that has a file serves it.
  for (const pkg of packages) {
    app.use('/resources', express.static(pkg.sourceRoot, staticOptions(pkg)));
    if (pkg.testRoot) app.use('/test-resources', express.static(pkg.testRoot, staticOptions(pkg)));
  }
  LOG.info('serving UI5', core?.version ?? '(no core)', 'from', packages.length, 'npm packages at /resources');
  return packages.length;
}
