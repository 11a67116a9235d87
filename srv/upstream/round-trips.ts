/**
 * Persists round-trip records. Each write runs in its own short transaction so the record survives
 * whatever happens to the business transaction around the call.
 */
import cds from '@sap/cds';

const LOG = cds.log('round-trips');

export interface RoundTripRecord {
  direction: 'inbound' | 'outbound';
  system: 'emarsys' | 'qualtrics';
  operation: string;
  method: string;
  path: string;
  httpStatus?: number;
  upstreamCode?: string;
  upstreamRequestId?: string;
  attempt?: number;
  durationMs?: number;
  itemCount?: number;
  error?: string;
  batch_ID?: string;
  invitation_ID?: string;
}

export interface RoundTripItem {
  roundTrip_ID: string;
  invitation_ID: string;
  outcome: string;
  code?: string;
  message?: string;
}

/** Removes the query string and any `Q_DL` link token, so paths never carry tokens or secrets. */
export function safePath(path: string): string {
  const withoutQuery = path.split('?')[0];
  return withoutQuery.slice(0, 500);
}

export function newRoundTrip(record: RoundTripRecord): Record<string, unknown> {
  return {
    ID: cds.utils.uuid(),
    at: new Date().toISOString(),
    attempt: 1,
    ...record,
    path: safePath(record.path),
    error: record.error?.slice(0, 1000)
  };
}

/** Inserts one outbound round trip in a transaction of its own and returns its ID. */
export async function recordRoundTrip(record: RoundTripRecord): Promise<string> {
  const entry = newRoundTrip(record);
  try {
    await cds.tx(() => INSERT.into('surveybridge.RoundTrips').entries(entry));
  } catch (error) {
    LOG.error('Failed to record round trip', { system: record.system, operation: record.operation }, error);
  }
  return entry.ID as string;
}
