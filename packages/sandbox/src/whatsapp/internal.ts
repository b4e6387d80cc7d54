/**
 * Links a public emulator handle to its internal core without exposing the core on the handle's type.
 * Only modules of this folder import it.
 */
import type { WhatsAppCore } from './core.ts';

const cores = new WeakMap<object, WhatsAppCore>();

export function attachCore(handle: object, core: WhatsAppCore): void {
  cores.set(handle, core);
}

export function coreOf(handle: object): WhatsAppCore {
  const core = cores.get(handle);
  if (core === undefined) throw new TypeError('not a WhatsApp emulator started by startWhatsAppEmulator()');
  return core;
}
