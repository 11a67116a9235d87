/** Audit API: read access to the audit trail, and campaign administration for admins. */
import cds from '@sap/cds';

/** Returns true for users who may read but not change campaigns. */
function isViewOnly(req: cds.Request): boolean {
  return !req.user.is('Admin');
}

export default class AuditService extends cds.ApplicationService {
  async init() {
    const { Campaigns, CurrentUser } = this.entities as any;
    // The UI reads these flags to hide what the service would reject with 403 for a viewer.
    this.on('READ', CurrentUser, (req: cds.Request) => ({ ID: req.user.id, viewOnly: isViewOnly(req) }));
    this.after('READ', [Campaigns, Campaigns.drafts], (result: any, req: cds.Request) => {
      const rows = Array.isArray(result) ? result : [result];
      for (const row of rows) {
        if (row) row.viewOnly = isViewOnly(req);
      }
    });
    await super.init();
  }
}
