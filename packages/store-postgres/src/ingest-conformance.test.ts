import { describeIngestConformance, describeJobsConformance } from '@wabridge/core/testing';
import { asConformanceStore, openTestStore } from './testing/open.ts';

// IngestStore and JobStore conformance on Postgres, each test on a schema of its own.
const open = async () => asConformanceStore(await openTestStore());

describeIngestConformance('postgres', open);
describeJobsConformance('postgres', open);
