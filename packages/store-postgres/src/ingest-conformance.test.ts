import { describeIngestConformance, describeJobsConformance } from '@wabridge/core/testing';
import { asConformanceStore, openTestStore } from './testing/open.ts';

// IngestStore and JobStore conformance on Postgres, each test on a schema of its own. The cases
// that need what the store does not have yet (status coalescing, markAccepted/markFailed,
// hydrateEvent) are listed in docs/architecture.md's "The Postgres store".
const open = async () => asConformanceStore(await openTestStore());

describeIngestConformance('postgres', open);
describeJobsConformance('postgres', open);
