import { describeStoreConformance } from '@wabridge/core/testing';
import { openTestStore } from './testing/open.ts';

// Core's whole store conformance suite (every part: config, access, ingest and commands, jobs,
// refs, connector state, reads) on Postgres, each test on a schema of its own. The store is passed
// as a `Store` without a cast: PostgresStore implements every role.
describeStoreConformance('postgres', openTestStore);
