import { describe, expect, it } from 'vitest';
import { slackSourceOf } from './slack-app-hooks.ts';

const FORM = 'application/x-www-form-urlencoded';
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

describe('the team a Slack callback at the app URL is for', () => {
  it('reads events by their authorization first (Slack Connect, org-wide installs), else the envelope', () => {
    const connect = {
      type: 'event_callback',
      team_id: 'T0PARTNER',
      authorizations: [{ team_id: 'T0OURS', enterprise_id: null }],
    };
    expect(slackSourceOf('application/json', JSON.stringify(connect))).toEqual({
      teamId: 'T0OURS',
      enterpriseId: undefined,
    });
    const orgWide = {
      type: 'event_callback',
      team_id: 'T0ENGINE',
      enterprise_id: 'E0STARSHIP',
      authorizations: [{ team_id: 'T0ENGINE', enterprise_id: 'E0STARSHIP', is_enterprise_install: true }],
    };
    expect(slackSourceOf('application/json', JSON.stringify(orgWide))).toEqual({
      teamId: 'T0ENGINE',
      enterpriseId: 'E0STARSHIP',
    });
    expect(
      slackSourceOf('application/json', JSON.stringify({ type: 'event_callback', team_id: 'T0A' })),
    ).toEqual({
      teamId: 'T0A',
      enterpriseId: undefined,
    });
    // An uninstall of an org-wide install names the organization only.
    const uninstalled = {
      team_id: 'E0STARSHIP',
      enterprise_id: 'E0STARSHIP',
      authorizations: [{ team_id: null }],
    };
    expect(slackSourceOf('application/json', JSON.stringify(uninstalled))).toEqual({
      teamId: 'E0STARSHIP',
      enterpriseId: 'E0STARSHIP',
    });
  });

  it('reads interactions by the installation that opened the view, then the team, then the user', () => {
    const payload = (p: Record<string, unknown>) => form({ payload: JSON.stringify(p) });
    expect(
      slackSourceOf(FORM, payload({ team: { id: 'T0PARTNER' }, view: { app_installed_team_id: 'T0OURS' } })),
    ).toEqual({ teamId: 'T0OURS', enterpriseId: undefined });
    expect(slackSourceOf(FORM, payload({ team: { id: 'T0A', enterprise_id: 'E0X' } }))).toEqual({
      teamId: 'T0A',
      enterpriseId: 'E0X',
    });
    expect(
      slackSourceOf(FORM, payload({ team: null, user: { team_id: 'T0B' }, enterprise: { id: 'E0Y' } })),
    ).toEqual({
      teamId: 'T0B',
      enterpriseId: 'E0Y',
    });
  });

  it('reads slash commands by their form, and gives null for a body it cannot read', () => {
    expect(slackSourceOf(FORM, form({ command: '/whatsapp', team_id: 'T0A', enterprise_id: 'E0X' }))).toEqual(
      {
        teamId: 'T0A',
        enterpriseId: 'E0X',
      },
    );
    for (const body of ['not json', '']) expect(slackSourceOf('application/json', body), body).toBeNull();
    expect(slackSourceOf(FORM, form({ payload: '{not json' }))).toBeNull();
  });
});
