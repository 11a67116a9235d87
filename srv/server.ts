/** Server bootstrap: raw JSON bodies for the inbound actions, then the background workers once served. */
import cds from '@sap/cds';
import { inboundBodyParser } from './inbound/body-parser';

cds.on('bootstrap', app => {
  app.use('/inbound', inboundBodyParser());
});

export default cds.server;
