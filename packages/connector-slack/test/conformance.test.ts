import { describeConnectorConformance } from '@wabridge/core/testing';
import { slackTestKit } from './kit.ts';

describeConnectorConformance('slack', slackTestKit());
