/** One-line progress output: redrawn in place on a terminal, one line per update otherwise. */
export function progress(text: string): void {
  if (process.stdout.isTTY) process.stdout.write(`\r\x1b[2K${text}`);
  else console.log(text);
}

export function endProgress(): void {
  if (process.stdout.isTTY) process.stdout.write('\n');
}

/** Prints rows as an aligned two-column table. */
export function printTable(title: string, rows: Array<[string, string | number]>): void {
  const width = Math.max(...rows.map(([name]) => name.length));
  console.log(`\n${title}`);
  for (const [name, value] of rows) console.log(`  ${name.padEnd(width)}  ${value}`);
}
