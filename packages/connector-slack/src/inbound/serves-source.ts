import type { SlackConfig } from '../config.ts';

/** Whether a callback's team / organization is the installation this connector serves. */
export function servesSource(
  config: Pick<SlackConfig, 'teamId' | 'enterpriseId'>,
  source: { teamId?: string | null | undefined; enterpriseId?: string | null | undefined },
): boolean {
  // A workspace install answers for its team; an org-wide (Enterprise Grid) install for every
  // workspace of its organization, whose callbacks carry the organization's id.
  if (config.teamId) return source.teamId === config.teamId;
  return config.enterpriseId !== undefined && source.enterpriseId === config.enterpriseId;
}
