/**
 * Starts both stand-ins on fixed loopback ports for manual work with `npm run watch`, seeds a few
 * Emarsys contacts, and prints the `destinations` value that points Survey Bridge at them.
 *
 *   npm run sandbox -- --emarsys-port 4101 --qualtrics-port 4102
 */
import { parseArgs } from 'node:util';
import { startEmarsysSandbox } from './emarsys';
import { startQualtricsSandbox } from './qualtrics';
import { sandboxDestinations } from './destinations';

const { values: args } = parseArgs({
  options: {
    'emarsys-port': { type: 'string', default: '4101' },
    'qualtrics-port': { type: 'string', default: '4102' },
    'latency-ms': { type: 'string', default: '20' }
  }
});

async function main(): Promise<void> {
  const faults = { latencyMs: Number(args['latency-ms']) };
  const emarsys = await startEmarsysSandbox({ port: Number(args['emarsys-port']), faults });
  const qualtrics = await startQualtricsSandbox({ port: Number(args['qualtrics-port']), faults });
  for (const name of ['erika', 'max', 'lena']) emarsys.addContact({ '3': `${name}@example.org`, '1': name[0].toUpperCase() + name.slice(1) });
  console.log(`Emarsys stand-in:   ${emarsys.url} (contacts erika@, max@ and lena@example.org)`);
  console.log(`Qualtrics stand-in: ${qualtrics.url}`);
  console.log('\nIn another terminal, point Survey Bridge at them and start it:\n');
  console.log(`  export destinations='${JSON.stringify(sandboxDestinations(emarsys, qualtrics))}'`);
  console.log('  npx cds deploy && npm run watch\n');
  console.log('Press Ctrl+C to stop the stand-ins.');
  await new Promise<void>(resolve => process.once('SIGINT', () => resolve()));
  await emarsys.close();
  await qualtrics.close();
}

main().catch(error => {
  console.error(error);
  process.exit(1);
});
