/**
 * Secondary indexes for the workers' queries. The CDS compiler emits no index for SQLite, so the
 * service creates them when it starts. On SAP HANA the same indexes are .hdbindex files in db/src.
 */
import cds from '@sap/cds';
import { INVITATIONS, ITEMS, LINKS, SCORES, tableOf } from './entities';

const LOG = cds.log('db-indexes');

export interface IndexDefinition {
  name: string;
  table: string;
  columns: string[];
}

/** Each index serves a query that would otherwise scan a table growing with every contact. */
export const INDEXES: IndexDefinition[] = [
  // The batcher's poll for waiting rows per campaign, and the claim that follows it.
  { name: 'surveybridge_SurveyInvitations_waiting', table: tableOf(INVITATIONS), columns: ['status', 'batch_ID', 'campaign_ID', 'receivedAt'] },
  // A batch's invitations, read and updated at every step of a batch run.
  { name: 'surveybridge_SurveyInvitations_batch', table: tableOf(INVITATIONS), columns: ['batch_ID'] },
  { name: 'surveybridge_SurveyLinks_invitation', table: tableOf(LINKS), columns: ['invitation_ID'] },
  { name: 'surveybridge_ScoreResponses_waiting', table: tableOf(SCORES), columns: ['status', 'batch_ID', 'campaign_ID', 'receivedAt'] },
  { name: 'surveybridge_ScoreResponses_batch', table: tableOf(SCORES), columns: ['batch_ID'] },
  // The round-trip timeline of one invitation in the audit UI.
  { name: 'surveybridge_RoundTripItems_invitation', table: tableOf(ITEMS), columns: ['invitation_ID'] }
];

/** Creates missing indexes on SQLite. Other databases get them from their deployment. */
export async function ensureIndexes(): Promise<void> {
  const db = cds.db as any;
  if (!db || db.options?.kind !== 'sqlite') return;
  const started = Date.now();
  for (const index of INDEXES) {
    try {
      await db.run(`CREATE INDEX IF NOT EXISTS ${index.name} ON ${index.table} (${index.columns.join(', ')})`);
    } catch (error) {
      LOG.error(`Creating index ${index.name} on ${index.table} failed; the service does not start without it`, error);
      throw error;
    }
  }
  LOG.info(`Checked ${INDEXES.length} indexes`, { ms: Date.now() - started });
}
