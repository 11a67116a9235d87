/** Server bootstrap: raw JSON bodies for the inbound actions, then the background workers once served. */
import cds from '@sap/cds';
import { setGlobalLogLevel } from '@sap-cloud-sdk/util';
import { inboundBodyParser } from './inbound/body-parser';
import { mountUi5Resources } from './ui5-resources';
import { registerPreflight } from './preflight/register';
import { registerReplay } from './workers/replay';
import { bodyLimit } from './security/body-limit';
import { securityHeaders } from './security/security-headers';

registerPreflight();
registerReplay();

// The Cloud SDK logs every destination lookup at info level; its warnings and errors still show.
setGlobalLogLevel('warn');

cds.on('bootstrap', app => {
  app.disable('x-powered-by');
  app.use(securityHeaders());
  app.use(bodyLimit());
  app.use('/inbound', inboundBodyParser());
  mountUi5Resources(app);
});

export default cds.server;
