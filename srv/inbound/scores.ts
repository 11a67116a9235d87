/** Placeholder replaced by the score flow. */
export async function ingestScore(_body: unknown, _started: number): Promise<{ httpStatus: number; body: unknown }> {
  return { httpStatus: 501, body: {} };
}
