/** Why an install was refused, with HubSpot's status as `code` (BAD_AUTH_CODE, EXPIRED_AUTH_CODE …). */
export class HubSpotInstallError extends Error {
  override readonly name = 'HubSpotInstallError';
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
