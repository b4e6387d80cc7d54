import { describeConnectorConformance } from '@wabridge/whatsapp/testing';
import { slackTestKit } from './kit.ts';

describeConnectorConformance('slack', slackTestKit());
