import { describe, expect, it } from 'vitest';
import type { ExternalRef } from '../domain/types.ts';
import { WabridgeError } from '../errors/index.ts';
import type { ExternalRefInput, RefAccess } from './contract.ts';
import {
  isPendingRef,
  type PendingPost,
  type PostOnceSpec,
  postOnce,
  refusedBeforeActing,
} from './post-once.ts';

/** Refs kept in a map, as the store's checkpoints keep them; every write is logged in order. */
function memoryRefs() {
  const refs = new Map<string, ExternalRef>();
  const log: string[] = [];
  const access: RefAccess = {
    get: async (kind, entityId) => refs.get(`${kind}/${entityId}`) ?? null,
    checkpoint: async (ref: ExternalRefInput) => {
      log.push(`checkpoint ${ref.externalId}`);
      refs.set(`${ref.kind}/${ref.entityId}`, { ...ref, connectorId: 'test' } as unknown as ExternalRef);
    },
  };
  return { access, refs, log };
}

/** A platform that keeps posts by nonce, so a search can find an earlier attempt's post. */
function platform() {
  const posts = new Map<string, string>();
  let next = 1;
  return {
    posts,
    post(nonce: string) {
      const id = `P${next++}`;
      posts.set(nonce, id);
      return id;
    },
  };
}

function spec(
  world: ReturnType<typeof memoryRefs>,
  target: ReturnType<typeof platform>,
  overrides: Partial<PostOnceSpec<string>> = {},
): PostOnceSpec<string> {
  return {
    kind: 'message',
    entityId: 'm1',
    existing: world.refs.get('message/m1') ?? null,
    posted: (ref) => (ref.externalId.startsWith('P') ? ref.externalId : null),
    nonce: `n${world.log.length}`,
    where: { channel: 'C1' },
    find: async (marker: PendingPost) => target.posts.get(marker.nonce) ?? null,
    send: async (nonce, mark) => {
      await mark();
      world.log.push(`send ${nonce}`);
      return target.post(nonce);
    },
    record: (id) => ({ externalId: id, data: { channel: 'C1' } }),
    now: () => 1_000,
    ...overrides,
  };
}

describe('postOnce', () => {
  it('marks the attempt before the request leaves, then records the post', async () => {
    const world = memoryRefs();
    const target = platform();
    await expect(postOnce(world.access, spec(world, target))).resolves.toBe('P1');
    expect(world.log).toEqual(['checkpoint pending:n0', 'send n0', 'checkpoint P1']);
    expect(world.refs.get('message/m1')).toMatchObject({ externalId: 'P1', data: { channel: 'C1' } });
  });

  it('does nothing for a ref that records a post', async () => {
    const world = memoryRefs();
    const target = platform();
    await postOnce(world.access, spec(world, target));
    world.log.length = 0;
    await expect(postOnce(world.access, spec(world, target))).resolves.toBe('P1');
    expect(world.log).toEqual([]);
    expect(target.posts.size).toBe(1);
  });

  it('after a crash between the request and the record, finds the post instead of posting again', async () => {
    const world = memoryRefs();
    const target = platform();
    const crash = new Error('process died');
    await expect(
      postOnce(
        world.access,
        spec(world, target, {
          send: async (nonce, mark) => {
            await mark();
            target.post(nonce);
            throw crash;
          },
        }),
      ),
    ).rejects.toBe(crash);
    const marker = world.refs.get('message/m1') ?? null;
    expect(isPendingRef(marker)).toBe(true);
    expect(marker?.data).toEqual({ channel: 'C1', pending: true, nonce: 'n0', at: 1_000 });

    world.log.length = 0;
    await expect(postOnce(world.access, spec(world, target))).resolves.toBe('P1');
    expect(world.log).toEqual(['checkpoint P1']);
    expect(target.posts.size).toBe(1);
  });

  it('records a post found after a crash with what its own attempt showed, not what the retry would show', async () => {
    const world = memoryRefs();
    const target = platform();
    const record: PostOnceSpec<string>['record'] = (id, shows) => ({
      externalId: id,
      data: { channel: 'C1', ...shows },
    });
    await expect(
      postOnce(
        world.access,
        spec(world, target, {
          shows: { shown: 'sent' },
          record,
          send: async (nonce, mark) => {
            await mark();
            target.post(nonce);
            throw new Error('timed out');
          },
        }),
      ),
    ).rejects.toThrow('timed out');
    // The retry would render the message as read by now; the post it finds says sent.
    await postOnce(world.access, spec(world, target, { shows: { shown: 'read' }, record }));
    expect(world.refs.get('message/m1')).toMatchObject({
      externalId: 'P1',
      data: { channel: 'C1', shown: 'sent' },
    });
    // A post it makes itself is recorded with its own.
    const fresh = memoryRefs();
    await postOnce(fresh.access, spec(fresh, platform(), { shows: { shown: 'read' }, record }));
    expect(fresh.refs.get('message/m1')?.data).toEqual({ channel: 'C1', shown: 'read' });
  });

  it('records a post found from a marker without shows as showing nothing known', async () => {
    const world = memoryRefs();
    const target = platform();
    const id = target.post('old');
    await world.access.checkpoint({
      kind: 'message',
      entityId: 'm1',
      externalId: 'pending:old',
      data: { channel: 'C1', pending: true, nonce: 'old', at: 1 },
    });
    await expect(
      postOnce(
        world.access,
        spec(world, target, {
          shows: { shown: 'read' },
          record: (post, shows) => ({ externalId: post, data: { channel: 'C1', ...shows } }),
        }),
      ),
    ).resolves.toBe(id);
    expect(world.refs.get('message/m1')?.data).toEqual({ channel: 'C1' });
  });

  it('posts again when the search finds nothing (the request never reached the platform)', async () => {
    const world = memoryRefs();
    const target = platform();
    await postOnce(
      world.access,
      spec(world, target, {
        send: async (_nonce, mark) => {
          await mark();
          throw new WabridgeError('transient', 'connection reset');
        },
      }),
    ).catch(() => {});
    const searched: PendingPost[] = [];
    const result = await postOnce(
      world.access,
      spec(world, target, {
        nonce: 'fresh',
        find: async (marker) => {
          searched.push(marker);
          return null;
        },
      }),
    );
    expect(searched).toEqual([{ nonce: 'n0', data: { channel: 'C1' }, shows: {}, at: 1_000 }]);
    expect(result).toBe('P1');
    expect([...target.posts.keys()]).toEqual(['fresh']);
  });

  it('clears the marker after a refusal the platform surely did not act on, and keeps it otherwise', async () => {
    for (const [error, cleared] of [
      [new WabridgeError('rate_limited', '429'), true],
      [new WabridgeError('transient', 'timeout'), false],
    ] as const) {
      const world = memoryRefs();
      const target = platform();
      await postOnce(
        world.access,
        spec(world, target, {
          send: async (_nonce, mark) => {
            await mark();
            throw error;
          },
          surelyNotSent: (e) => (e as WabridgeError).code === 'rate_limited',
        }),
      ).catch(() => {});
      expect(isPendingRef(world.refs.get('message/m1') ?? null)).toBe(!cleared);
    }
  });

  it('does not search for a marker without a nonce', async () => {
    const world = memoryRefs();
    const target = platform();
    await world.access.checkpoint({ kind: 'message', entityId: 'm1', externalId: 'pending:', data: {} });
    let searched = false;
    await postOnce(
      world.access,
      spec(world, target, {
        find: async () => {
          searched = true;
          return null;
        },
      }),
    );
    expect(searched).toBe(false);
    expect(target.posts.size).toBe(1);
  });
});

describe('refusedBeforeActing', () => {
  it('holds for answers that refused the request, never for ones whose outcome is unknown', () => {
    for (const code of ['rate_limited', 'permanent', 'auth_failed', 'config_invalid'] as const)
      expect(refusedBeforeActing(new WabridgeError(code, 'refused')), code).toBe(true);
    expect(refusedBeforeActing(new WabridgeError('transient', 'timed out after 10 s'))).toBe(false);
    expect(refusedBeforeActing(new Error('socket hang up'))).toBe(false);
  });
});
