/** Reads counts from the running service's audit API (OData V4) as an administrator. */
const ADMIN = `Basic ${Buffer.from('admin:admin').toString('base64')}`;

export async function countOf(serviceUrl: string, entity: string, filter?: string): Promise<number> {
  const query = filter ? `?$filter=${encodeURIComponent(filter)}` : '';
  const response = await fetch(`${serviceUrl}/audit/${entity}/$count${query}`, { headers: { authorization: ADMIN } });
  if (!response.ok) throw new Error(`Counting ${entity} failed with HTTP ${response.status}: ${await response.text()}`);
  return Number(await response.text());
}

/** Counts rows per value of `column`. */
export async function countBy(serviceUrl: string, entity: string, column: string): Promise<Record<string, number>> {
  const apply = encodeURIComponent(`groupby((${column}),aggregate($count as count))`);
  const response = await fetch(`${serviceUrl}/audit/${entity}?$apply=${apply}`, { headers: { authorization: ADMIN } });
  if (!response.ok) throw new Error(`Grouping ${entity} failed with HTTP ${response.status}: ${await response.text()}`);
  const body = (await response.json()) as { value: Array<Record<string, any>> };
  const counts: Record<string, number> = {};
  for (const row of body.value) counts[String(row[column])] = Number(row.count);
  return counts;
}
