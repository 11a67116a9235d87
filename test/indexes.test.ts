import cds from '@sap/cds';
import fs from 'node:fs';
import path from 'node:path';
import { useStack } from './support/stack';
import { INDEXES, ensureIndexes } from '../srv/lib/indexes';

useStack();

const HANA_SOURCES = path.join(__dirname, '..', 'db', 'src');

/** Runs a statement that returns rows, because plain SQL through cds.db.run returns rows only for SELECT. */
function all(sql: string, values: unknown[] = []): Promise<any[]> {
  return (cds.db as any).tx(async (tx: any) => {
    await tx.run('SELECT 1'); // acquires the connection that prepare needs
    return (await tx.prepare(sql)).all(values);
  });
}

async function queryPlan(sql: string, values: unknown[]): Promise<string> {
  const rows = await all(`EXPLAIN QUERY PLAN ${sql}`, values);
  return rows.map(row => row.detail).join('\n');
}

describe('secondary indexes', () => {
  test('exist in SQLite once the service is served', async () => {
    for (const index of INDEXES) {
      const columns = (await all(`PRAGMA index_info(${index.name})`)) as Array<{ seqno: number; name: string }>;
      expect({ index: index.name, columns: columns.sort((a, b) => a.seqno - b.seqno).map(column => column.name) })
        .toEqual({ index: index.name, columns: index.columns });
    }
  });

  test('serve the batcher poll and a batch read without a table scan', async () => {
    const { sql, values } = (cds.db as any).cqn2sql(
      SELECT.from('surveybridge.SurveyInvitations').columns('campaign_ID', 'count(1) as waiting', 'min(receivedAt) as oldest')
        .where({ status: 'received', batch_ID: null }).groupBy('campaign_ID'));
    const poll = await queryPlan(sql, values);
    expect(poll).toMatch(/USING (COVERING )?INDEX surveybridge_SurveyInvitations_waiting/);
    expect(poll).not.toMatch(/SCAN surveybridge_SurveyInvitations\b(?! USING)/);

    const batchRead = (cds.db as any).cqn2sql(
      SELECT.from('surveybridge.SurveyInvitations').columns('ID').where({ batch_ID: cds.utils.uuid(), status: { in: ['received'] } }));
    expect(await queryPlan(batchRead.sql, batchRead.values)).toMatch(/USING INDEX surveybridge_SurveyInvitations_(batch|waiting)/);
  });

  test('creating them again changes nothing', async () => {
    const before = await cds.db.run(`SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name`);
    await ensureIndexes();
    expect(await cds.db.run(`SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name`)).toEqual(before);
  });

  test('SAP HANA gets the same indexes as .hdbindex files', () => {
    const files = fs.readdirSync(HANA_SOURCES).filter(file => file.endsWith('.hdbindex')).sort();
    expect(files).toEqual(INDEXES.map(index => `${index.name.toUpperCase()}.hdbindex`).sort());
    for (const index of INDEXES) {
      const text = fs.readFileSync(path.join(HANA_SOURCES, `${index.name.toUpperCase()}.hdbindex`), 'utf8').trim();
      expect(text).toBe(`INDEX ${index.name.toUpperCase()} ON ${index.table.toUpperCase()} (${index.columns.map(column => column.toUpperCase()).join(', ')})`);
    }
  });
});
