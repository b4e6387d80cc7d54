import type { Store } from '../store/types.ts';
import type { LinkAccess, PublishedLink, RefAccess } from './contract.ts';

/**
 * Links between targets: a connector publishes where one of our contacts lives on its platform (a
 * CRM record), and the others show it (a "View in …" button on Slack's card) without knowing who
 * published it or reading its refs.
 *
 * A link is a ref of its publisher: kind `link`, the contact as entity, the URL as external id,
 * the label in its data. Publishing goes through `RefAccess.checkpoint` (fenced by the job's lease
 * like any other ref); reading asks each registered connector's `link` ref with `Store.getRef`, so
 * links need no store method of their own. A withdrawn link keeps its row with an empty URL.
 */
export const LINK_REF_KIND = 'link';

export function linkAccess(
  store: Pick<Store, 'getRef'>,
  refs: Pick<RefAccess, 'checkpoint'>,
  workspaceId: string,
  self: string,
  connectorIds: readonly string[],
): LinkAccess {
  return {
    publish: ({ contactId, label, url }) =>
      refs.checkpoint({ kind: LINK_REF_KIND, entityId: contactId, externalId: url, data: { label } }),
    withdraw: (contactId) =>
      refs.checkpoint({ kind: LINK_REF_KIND, entityId: contactId, externalId: '', data: {} }),
    list: async (contactId) => {
      const links: PublishedLink[] = [];
      for (const connectorId of connectorIds) {
        if (connectorId === self) continue;
        const ref = await store.getRef(workspaceId, connectorId, LINK_REF_KIND, contactId);
        const link = ref && publishedLink(ref.externalId, ref.data);
        if (link) links.push(link);
      }
      return links;
    },
  };
}

function publishedLink(url: string, data: Record<string, unknown>): PublishedLink | null {
  if (!url || typeof data.label !== 'string') return null;
  return { label: data.label, url };
}
