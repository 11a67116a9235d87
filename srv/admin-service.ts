/** Handlers of the administrator actions. Each delegates to a module under srv/admin/. */
import cds from '@sap/cds';
import { eraseContact } from './admin/erase';
import { purgeExpired, retentionSettings } from './admin/retention';

const LOG = cds.log('admin');

export default class AdminService extends cds.ApplicationService {
  async init() {
    this.on('erase', req => {
      const contactKey = String((req.data as any).contactKey ?? '').trim();
      if (!contactKey) {
        return req.reject({ status: 400, code: 'MISSING_CONTACT_KEY', target: 'contactKey',
          message: "Parameter 'contactKey' is empty. Send the Emarsys key value of the contact, for example the email address." });
      }
      return eraseContact(contactKey);
    });

    this.on('purgeExpired', () => purgeExpired());

    await super.init();
    cds.once('served', () => this.scheduleRetention());
  }

  /**
   * Puts the purge on CAP's persistent queue as a recurring task. The task has a fixed id, so every
   * instance that starts replaces the same entry instead of adding one.
   */
  private async scheduleRetention(): Promise<void> {
    const { schedule } = retentionSettings();
    try {
      await cds.tx({ user: new cds.User.Privileged() } as any, () => this.schedule('purgeExpired').every(schedule));
      LOG.info('Retention purge scheduled', { schedule });
    } catch (error) {
      LOG.error('Failed to schedule the retention purge; check cds.surveyBridge.retention.schedule', error);
    }
  }
}
