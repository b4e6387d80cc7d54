export * from './actor.ts';
export * from './password.ts';
export * from './roles.ts';
export * from './secrets.ts';
export * from './service.ts';
export * from './throttle.ts';
export type * from './types.ts';
