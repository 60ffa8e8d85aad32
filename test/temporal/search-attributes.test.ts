import { Connection } from '@temporalio/client';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { ensureSearchAttributes, SEARCH_ATTRIBUTES } from '../../src/temporal/search-attributes.js';
import { services, temporalCli } from '../support/services.js';

describe('ensureSearchAttributes', () => {
  it('creates the missing search attributes through the operator service, once', async () => {
    const { TEMPORAL_ADDRESS } = services();
    const namespace = `sa-${randomUUID().slice(0, 8)}`;
    execFileSync(temporalCli, [
      'operator',
      'namespace',
      'create',
      '--namespace',
      namespace,
      '--address',
      TEMPORAL_ADDRESS,
    ]);
    const connection = await Connection.connect({ address: TEMPORAL_ADDRESS });
    try {
      let created: string[] | undefined;
      // A new namespace takes a moment to be visible to every service of the dev server.
      for (let attempt = 0; attempt < 50 && !created; attempt++) {
        created = await ensureSearchAttributes(connection, namespace).catch(async () => {
          await new Promise((resolve) => setTimeout(resolve, 200));
          return undefined;
        });
      }
      expect(created?.sort()).toEqual([...SEARCH_ATTRIBUTES].sort());
      const listed = await connection.operatorService.listSearchAttributes({ namespace });
      for (const name of SEARCH_ATTRIBUTES)
        expect(Object.keys(listed.customAttributes ?? {})).toContain(name);
      expect(await ensureSearchAttributes(connection, namespace)).toEqual([]);
    } finally {
      await connection.close();
      execFileSync(temporalCli, [
        'operator',
        'namespace',
        'delete',
        '--namespace',
        namespace,
        '--address',
        TEMPORAL_ADDRESS,
        '--yes',
      ]);
    }
  });
});
