import { describe, expect, it } from 'vitest';
import { createMetrics } from './metrics.ts';

describe('prometheus metrics', () => {
  it('never throws on a label the metric did not declare (a metric call must not break a delivery)', async () => {
    const metrics = createMetrics(() => null);
    expect(() =>
      metrics.increment('platform_errors_total', { connector: 'hubspot', code: '131047' }),
    ).not.toThrow();
    expect(() =>
      metrics.increment('connector_alerts_total', {
        connector: 'teams',
        kind: 'reconsent_needed',
        extra: 'x',
      }),
    ).not.toThrow();
    const text = await metrics.registry.metrics();
    expect(text).toContain('wabridge_platform_errors_total{code="131047"} 1');
    expect(text).toContain('wabridge_connector_alerts_total{connector="teams",kind="reconsent_needed"} 1');
  });
});
