/**
 * Helpers for this folder's tests: the app being installed, i.e. `@slack/oauth`'s InstallProvider
 * behind a real HTTP server, as Bolt runs it. Not exported from the package.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type Installation,
  InstallProvider,
  type InstallURLOptions,
  type Logger,
  LogLevel,
} from '@slack/oauth';
import type { SlackEmulator } from './index.ts';

export const CLIENT = { clientId: '1111.2222', clientSecret: 'client-secret-sandbox' };
export const SCOPES = ['chat:write', 'channels:history', 'reactions:write', 'files:write', 'users:read'];

const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  setLevel: () => {},
  getLevel: () => LogLevel.ERROR,
  setName: () => {},
};

/** The app being installed: `@slack/oauth`'s InstallProvider behind a real HTTP server, as Bolt runs it. */
export interface AppSide {
  url: string;
  installer: InstallProvider;
  installations: Installation[];
  failures: { code: string; message: string }[];
  close(): Promise<void>;
}

/** Starts the app; `host` is the name its URLs use (a browser keeps Secure cookies for `localhost`). */
export async function startApp(
  emulator: SlackEmulator,
  installOptions: Partial<InstallURLOptions> = {},
  host = '127.0.0.1',
): Promise<AppSide> {
  const installations: Installation[] = [];
  const failures: { code: string; message: string }[] = [];
  let base = '';
  const installer = new InstallProvider({
    ...CLIENT,
    stateSecret: 'state-secret-of-the-app',
    directInstall: true,
    logger: silentLogger,
    authorizationUrl: emulator.authorizeUrl,
    clientOptions: { slackApiUrl: emulator.apiUrl },
    installationStore: {
      storeInstallation: async (installation) => {
        installations.push(installation);
      },
      fetchInstallation: async (query) => {
        const found = installations.findLast((i) =>
          query.isEnterpriseInstall ? i.enterprise?.id === query.enterpriseId : i.team?.id === query.teamId,
        );
        if (!found) throw new Error(`no installation for ${JSON.stringify(query)}`);
        return found;
      },
      deleteInstallation: async () => {},
    },
  });
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://app').pathname;
    const options: InstallURLOptions = {
      scopes: SCOPES,
      redirectUri: `${base}/slack/oauth_redirect`,
      ...installOptions,
    };
    if (path === '/slack/install') {
      void installer.handleInstallPath(req, res, {}, options);
    } else if (path === '/slack/oauth_redirect') {
      void installer.handleCallback(req, res, {
        success: (_installation, _options, _req, response) => response.writeHead(200).end('installed'),
        failure: (error, _options, _req, response) => {
          failures.push({ code: (error as { code: string }).code, message: error.message });
          response.writeHead(400).end(`failed: ${error.message}`);
        },
      });
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://${host}:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    installer,
    installations,
    failures,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
