import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Counter, Histogram } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';

/**
 * Warden's OpenTelemetry metrics, read by Prometheus from the gateway's own /metrics route
 * (the exporter's separate HTTP server is not started).
 */
export class WardenMetrics {
  readonly graphqlRequests: Counter;
  readonly graphqlDuration: Histogram;
  readonly decisions: Counter;
  readonly decisionDuration: Histogram;
  readonly accessDenied: Counter;
  readonly ingestedRecords: Counter;

  private readonly exporter: PrometheusExporter;
  private readonly provider: MeterProvider;

  constructor() {
    this.exporter = new PrometheusExporter({ preventServerStart: true });
    this.provider = new MeterProvider({ readers: [this.exporter] });
    const meter = this.provider.getMeter('warden');

    this.graphqlRequests = meter.createCounter('warden_graphql_requests', {
      description: 'GraphQL operations handled, by operation name and result',
    });
    this.graphqlDuration = meter.createHistogram('warden_graphql_request_duration_seconds', {
      description: 'Time to handle one GraphQL operation',
      unit: 's',
      advice: { explicitBucketBoundaries: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] },
    });
    this.decisions = meter.createCounter('warden_decisions', {
      description: 'Decisions made, by use case and outcome',
    });
    this.decisionDuration = meter.createHistogram('warden_decision_duration_seconds', {
      description: 'Time from a validated request to a committed decision and ledger entry',
      unit: 's',
      advice: { explicitBucketBoundaries: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1] },
    });
    this.accessDenied = meter.createCounter('warden_access_denied', {
      description: 'Requests denied by policy, by resource and action',
    });
    this.ingestedRecords = meter.createCounter('warden_ingested_records', {
      description: 'Ingested records, by dataset and result (accepted, quarantined, duplicate)',
    });
  }

  /** Writes the Prometheus text exposition of all metrics to an HTTP response. */
  handleScrape(request: IncomingMessage, response: ServerResponse): void {
    this.exporter.getMetricsRequestHandler(request, response);
  }

  async shutdown(): Promise<void> {
    await this.provider.shutdown();
  }
}
