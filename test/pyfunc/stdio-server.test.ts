import { PassThrough } from 'node:stream';
import { runStdioServer } from '../../src/model/pyfunc/stdio-server.js';
import { createFixtureModel } from './fixtures/fixture-model.js';

async function exchange(lines: string[]): Promise<unknown[]> {
  const input = new PassThrough();
  const output = new PassThrough();
  let text = '';
  output.on('data', (c: Buffer) => (text += c.toString('utf8')));
  const done = runStdioServer(createFixtureModel(), input, output);
  input.end(lines.map((l) => `${l}\n`).join(''));
  await done;
  return text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as unknown);
}

describe('runStdioServer', () => {
  it('answers each request line with its id and predictions, in order', async () => {
    expect(
      await exchange([
        '{"id": 1, "records": [{"x": 1}, {"x": 2.5}], "params": null}',
        '{"id": 2, "records": [{"x": 1}], "params": {"offset": 0.5}}',
        '',
        '{"id": 3, "records": []}',
      ]),
    ).toEqual([
      { id: 1, predictions: [{ y: 2 }, { y: 5 }] },
      { id: 2, predictions: [{ y: 2.5 }] },
      { id: 3, predictions: [] },
    ]);
  });

  it('answers errors as {"error": {type, message}} and keeps serving', async () => {
    expect(
      await exchange([
        'not json',
        '{"id": 4, "rows": []}',
        '{"id": 5, "records": [{"x": 1}], "params": {"fail": true}}',
        '{"id": 6, "records": [{"x": 3}]}',
      ]),
    ).toEqual([
      {
        id: null,
        error: {
          type: 'ProtocolError',
          message: expect.stringContaining('Invalid JSON request line'),
        },
      },
      {
        id: 4,
        error: {
          type: 'ProtocolError',
          message: 'A request line must be {"id": n, "records": [...], "params": {...}}',
        },
      },
      { id: 5, error: { type: 'FixtureFailure', message: 'the fixture model was asked to fail' } },
      { id: 6, predictions: [{ y: 6 }] },
    ]);
  });
});
