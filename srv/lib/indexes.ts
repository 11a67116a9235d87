/**
 * Secondary indexes for the workers' queries. The CDS compiler emits no index for SQLite, so the
 * service creates them when it starts. On SAP HANA the same indexes are .hdbindex files in db/src.
 */
import cds from '@sap/cds';

const LOG = cds.log('db-indexes');

export interface IndexDefinition {
  name: string;
  table: string;
  columns: string[];
}

/** Each index serves a query that would otherwise scan a table growing with every contact. */
export const INDEXES: IndexDefinition[] = [
  // The batcher's poll for waiting rows per campaign, and the claim that follows it.
  { name: 'surveybridge_SurveyInvitations_waiting', table: 'surveybridge_SurveyInvitations', columns: ['status', 'batch_ID', 'campaign_ID', 'receivedAt'] },
  // A batch's invitations, read and updated at every step of a batch run.
  { name: 'surveybridge_SurveyInvitations_batch', table: 'surveybridge_SurveyInvitations', columns: ['batch_ID'] },
  { name: 'surveybridge_SurveyLinks_invitation', table: 'surveybridge_SurveyLinks', columns: ['invitation_ID'] },
  { name: 'surveybridge_ScoreResponses_waiting', table: 'surveybridge_ScoreResponses', columns: ['status', 'batch_ID', 'campaign_ID', 'receivedAt'] },
  { name: 'surveybridge_ScoreResponses_batch', table: 'surveybridge_ScoreResponses', columns: ['batch_ID'] },
  // The round-trip timeline of one invitation in the audit UI.
  { name: 'surveybridge_RoundTripItems_invitation', table: 'surveybridge_RoundTripItems', columns: ['invitation_ID'] }
];

/** Creates missing indexes on SQLite; other databases get them from their deployment. */
export async function ensureIndexes(): Promise<void> {
  const db = cds.db as any;
  if (!db || db.options?.kind !== 'sqlite') return;
  const started = Date.now();
  for (const index of INDEXES) {
    await db.run(`CREATE INDEX IF NOT EXISTS ${index.name} ON ${index.table} (${index.columns.join(', ')})`);
  }
  LOG.info(`Checked ${INDEXES.length} indexes`, { ms: Date.now() - started });
}
