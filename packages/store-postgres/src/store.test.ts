import {
  describeAccessConformance,
  describeConfigConformance,
  describeConnectorStateConformance,
  describeRefsConformance,
} from '@wabridge/core/testing';
import { asConformanceStore, openTestStore } from './testing/open.ts';

// The conformance parts of the roles the Postgres store has, each test on a schema of its own.
// IngestStore and JobStore run in ingest-conformance.test.ts; GovernanceStore and reads join as built.
const open = async () => asConformanceStore(await openTestStore());

describeConfigConformance('postgres', open);
describeAccessConformance('postgres', open);
describeRefsConformance('postgres', open);
describeConnectorStateConformance('postgres', open);
