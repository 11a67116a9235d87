/**
 * Read-only access to the service's SQLite file. SQLite runs in WAL mode, so these reads see every
 * committed transaction while the service keeps writing, and they still work after a SIGKILL.
 */
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { ROOT } from '../lib/service-process';

export const INVITATIONS_TABLE = 'surveybridge_SurveyInvitations';
export const SCORES_TABLE = 'surveybridge_ScoreResponses';

/** Invitation statuses after which the invitation flow is done with a contact. */
export const FINAL_INVITATION_STATUSES = ['suppressedUnsubscribed', 'suppressedFrequency', 'suppressedFatigue', 'linkNotFound',
  'eventTriggered', 'contactNotFound', 'failed', 'responded', 'scoreStored'];

export class BenchDatabase {
  private readonly db: DatabaseSync;

  /**
   * Opens `database` (relative to the project root), read-only by default. After the service was
   * killed, open it writable: the first connection then recovers the WAL as a restarted service would.
   */
  constructor(database: string, { readOnly = true } = {}) {
    this.db = new DatabaseSync(path.join(ROOT, database), { readOnly, timeout: 10_000 } as any);
  }

  /** Counts the rows of `table` per value of its status column. */
  countByStatus(table: string): Record<string, number> {
    const rows = this.db.prepare(`select status, count(1) as count from ${table} group by status`).all() as Array<{ status: string; count: number }>;
    return Object.fromEntries(rows.map(row => [row.status, Number(row.count)]));
  }

  /** Returns the values of one text column, optionally filtered by status. */
  column(table: string, column: string, status?: string): string[] {
    const sql = `select ${column} as value from ${table}${status ? ' where status = ?' : ''}`;
    const statement = this.db.prepare(sql);
    const rows = (status ? statement.all(status) : statement.all()) as Array<{ value: string }>;
    return rows.map(row => row.value);
  }

  pragma(name: string): unknown {
    return Object.values(this.db.prepare(`pragma ${name}`).get() ?? {})[0];
  }

  close(): void {
    this.db.close();
  }
}

/** Sums the counts of the given statuses. */
export function sumOf(counts: Record<string, number>, statuses: string[]): number {
  return statuses.reduce((sum, status) => sum + (counts[status] ?? 0), 0);
}
