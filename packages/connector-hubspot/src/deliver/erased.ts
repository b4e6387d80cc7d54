import type { BatchItem } from '@wabridge/core';
import { COMMUNICATION } from '../setup/properties.ts';
import { fail, type HubSpotParts, type Outcome, ok } from './outcome.ts';

/** Archives every timeline entry of an erased conversation. */
export async function erase(h: HubSpotParts, item: BatchItem): Promise<Outcome> {
  try {
    const ids: string[] = [];
    let after: string | undefined;
    for (let page = 0; page < 50; page++) {
      const response = await h.api.search('communications', {
        filterGroups: [
          {
            filters: [
              {
                propertyName: COMMUNICATION.conversation,
                operator: 'EQ',
                value: item.event.conversation.id,
              },
            ],
          },
        ],
        properties: [COMMUNICATION.key],
        limit: 200,
        ...(after ? { after } : {}),
      });
      ids.push(...response.results.map((r) => r.id));
      if (!response.after) break;
      after = response.after;
    }
    for (let i = 0; i < ids.length; i += 100)
      await h.api.batchArchive('communications', ids.slice(i, i + 100));
    item.ctx.logger.info({ archived: ids.length }, 'erased conversation removed from the HubSpot timeline');
    return ok();
  } catch (error) {
    return fail(error);
  }
}
