// `node dist/bench/batch-floods.js`: RSS growth of the daemon (and of the
// daemon with its sandbox processes) past idle under floods of JSON-RPC
// batches, beside the same work sent as single requests, each on a fresh
// daemon with the default settings. Prints a Markdown table.
import {
  bigScriptBatches,
  bigScriptRequests,
  type FloodResult,
  measure,
  readMbRequests,
  unreadMbBatches,
} from '../test/helpers/batch-floods.js';
import { mib } from '../test/helpers/rss.js';

const FLOODS = [
  { name: '60 batches of a 3.8 MB script + 99 notifications, 2 connections', flood: bigScriptBatches },
  { name: 'the same 60 scripts as single requests, 2 connections', flood: bigScriptRequests },
  { name: '3 clients not reading, 1 batch of 60 requests for 1 MB results each', flood: unreadMbBatches },
  { name: 'the same 180 requests single, 3 clients reading', flood: readMbRequests },
];

/** "value ×20, 1004 the execution queue is full (QUEUE_BYTES) ×9, …" */
function tally(outcomes: string[]): string {
  const counts = new Map<string, number>();
  for (const outcome of outcomes) counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
  return [...counts].map(([outcome, count]) => `${outcome} ×${count}`).join(', ');
}

async function main(): Promise<void> {
  console.log('| flood | daemon grew | with sandboxes | idle | replies |\n| --- | --- | --- | --- | --- |');
  for (const { name, flood } of FLOODS) {
    const { growth, outcomes }: FloodResult = await measure(flood);
    console.log(`| ${name} | ${mib(growth.daemon)} | ${mib(growth.total)} | ${mib(growth.idle)} | ${tally(outcomes)} |`);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
