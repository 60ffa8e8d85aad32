/**
 * Writes data/01_raw/tickets.csv (made-up customer-support tickets: the business objects) and
 * data/01_raw/labels.csv (the team that handled each one: the training target). Deterministic (seeded), so the committed file can be regenerated exactly:
 *   node --import tsx examples/support-tickets/make-data.ts
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const topics: Record<string, { subjects: string[]; phrases: string[] }> = {
  billing: {
    subjects: [
      'Invoice question',
      'Charged twice',
      'Refund request',
      'Payment failed',
      'Subscription price',
    ],
    phrases: [
      'I was charged twice for my order',
      'please refund the payment',
      'my invoice shows the wrong amount',
      'the credit card payment was declined',
      'why did the subscription price go up',
      'I need a copy of my invoice',
      'cancel my plan and refund me',
      'the bank statement shows an extra charge',
      'can I pay by bank transfer',
      'update the billing address on my account',
    ],
  },
  technical: {
    subjects: [
      'App crashes',
      'Cannot log in',
      'Error message',
      'Sync not working',
      'Password reset',
    ],
    phrases: [
      'the app crashes when I open settings',
      'I cannot log in since the update',
      'I get an error code 500',
      'the password reset email never arrives',
      'data does not sync between my phone and laptop',
      'the page is blank after login',
      'two factor code is rejected',
      'the export button does nothing',
      'the mobile app is very slow',
      'notifications stopped working after the update',
    ],
  },
  shipping: {
    subjects: [
      'Where is my parcel',
      'Late delivery',
      'Wrong address',
      'Damaged package',
      'Tracking number',
    ],
    phrases: [
      'my parcel has not arrived yet',
      'the tracking number does not work',
      'the package arrived damaged',
      'please change the delivery address',
      'the courier left the box at the wrong door',
      'delivery is two weeks late',
      'I received the wrong item in the box',
      'can you ship to another country',
      'the parcel was returned to sender',
      'when will my order be dispatched',
    ],
  },
};
const fillers = [
  'Hello,',
  'Hi team,',
  'Good morning.',
  'Dear support,',
  '',
  'Urgent:',
  'Thanks in advance.',
  'Regards.',
];
// Sentences any team gets: they carry no signal, so short tickets stay uncertain.
const generic = [
  'I need help with my account.',
  'Please answer quickly.',
  'This is the second time I write.',
  'Nothing works as expected.',
];

// Mulberry32: a tiny seeded generator, so the file is the same on every machine.
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const next = random(42);
const pick = <T>(items: T[]): T => items[Math.floor(next() * items.length)]!;
const quote = (text: string): string => `"${text.replace(/"/g, '""')}"`;

const rows = ['ticket_id,subject,body'];
const labels = ['ticket_id,team'];
const teams = Object.keys(topics);
for (let id = 1; id <= 600; id++) {
  const team = pick(teams);
  const { subjects, phrases } = topics[team]!;
  const parts = [
    pick(fillers),
    pick(phrases) + '.',
    next() < 0.4 ? pick(phrases) + '.' : '',
    next() < 0.5 ? pick(generic) : '',
    pick(fillers),
  ];
  // One ticket in four also mentions another team's topic: the classifier must weigh words.
  if (next() < 0.25) parts.splice(2, 0, pick(topics[pick(teams)]!.phrases) + '.');
  const body = parts.filter(Boolean).join(' ');
  const ticketId = `T${String(id).padStart(4, '0')}`;
  rows.push([ticketId, quote(pick(subjects)), quote(body)].join(','));
  labels.push([ticketId, team].join(','));
}
const write = (name: string, lines: string[]): void => {
  const target = fileURLToPath(new URL(`./data/01_raw/${name}`, import.meta.url));
  writeFileSync(target, lines.join('\n') + '\n');
  console.log(`wrote ${lines.length - 1} rows to ${target}`);
};
write('tickets.csv', rows);
write('labels.csv', labels);
