/** Audit API: read access to the audit trail, and campaign administration for admins. */
import cds from '@sap/cds';

export default class AuditService extends cds.ApplicationService {
  async init() {
    const { Campaigns } = this.entities as any;
    // The UI reads this flag to hide what the server would reject with 403 for a viewer.
    this.after('READ', [Campaigns, Campaigns.drafts], (result: any, req: cds.Request) => {
      const viewOnly = !req.user.is('Admin');
      const rows = Array.isArray(result) ? result : [result];
      for (const row of rows) {
        if (row) row.viewOnly = viewOnly;
      }
    });
    await super.init();
  }
}
