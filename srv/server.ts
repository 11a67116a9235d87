/** Server bootstrap: raw JSON bodies for the inbound actions, then the background workers once served. */
import cds from '@sap/cds';
import { setGlobalLogLevel } from '@sap-cloud-sdk/util';
import { inboundBodyParser } from './inbound/body-parser';
import { mountUi5Resources } from './ui5-resources';
import { registerPreflight } from './preflight/register';
import { registerReplay } from './workers/replay';
import { bodyLimit } from './security/body-limit';
import { securityHeaders } from './security/security-headers';
import { ensureIndexes } from './lib/indexes';

registerPreflight();
registerReplay();

// Listeners of `served` run one after another, and this one is registered first, so the workers start on indexed tables.
cds.once('served', ensureIndexes);

// The Cloud SDK logs every destination lookup at info level; its warnings and errors still show.
setGlobalLogLevel('warn');

cds.on('bootstrap', app => {
  // BIND_HOST limits the listener to one interface; local runs set 127.0.0.1, Cloud Foundry sets nothing.
  const bindHost = process.env.BIND_HOST;
  if (bindHost) {
    const listen = app.listen.bind(app);
    app.listen = ((port: number, ...rest: any[]) => listen(port, bindHost, ...rest)) as typeof app.listen;
  }
  app.disable('x-powered-by');
  app.use(securityHeaders());
  app.use(bodyLimit());
  app.use('/inbound', inboundBodyParser());
  mountUi5Resources(app);
});

export default cds.server;
