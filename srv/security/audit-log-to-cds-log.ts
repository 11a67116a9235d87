/**
 * Audit log sink for development and tests: writes each audit event through `cds.log('audit-log')`,
 * so log levels and formats apply and tests can silence or capture it. Production sends the events
 * to the SAP Audit Log service through the plugin's own `audit-log-to-restv2` kind.
 */
import cds from '@sap/cds';

const { AuditLogService } = require('@cap-js/audit-logging') as { AuditLogService: typeof cds.Service };

const LOG = cds.log('audit-log');

export default class AuditLogToCdsLog extends AuditLogService {
  async init() {
    this.on('*', req => {
      LOG.info(req.event, req.data);
    });
    await super.init();
  }
}
