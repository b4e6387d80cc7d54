// Shared by crash-child.ts (which makes the workspaces) and the tests (which address them); kept
// apart from crash-ledger.ts, which imports vitest and does not load in a child process.

/** The number of crash-child's workspace `w` (CRASH_WORKSPACES): the first is the test bridge's. */
export const crashPhoneNumberId = (w: number) => String(106540352242922 + w);
