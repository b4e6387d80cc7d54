// oidc-provider (a test dependency: the real OpenID provider the single sign-on test runs against)
// ships no types; this is the part of its API the test uses.
declare module 'oidc-provider' {
  import type { Server } from 'node:http';

  interface Account {
    accountId: string;
    claims(): Record<string, unknown>;
  }

  export default class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>);
    listen(port: number): Server;
    findAccount?: (ctx: unknown, id: string) => Promise<Account | undefined>;
  }
}
