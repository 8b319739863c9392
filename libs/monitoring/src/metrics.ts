import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Counter, Histogram, ObservableGauge } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { WARDEN_VERSION } from '../../common/src/index.js';

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
  readonly reviewOutcomes: Counter;
  readonly reviewTimeToDecision: Histogram;
  readonly reviewSlaBreaches: Counter;
  readonly reviewQueueDepth: ObservableGauge;
  readonly llmCalls: Counter;
  readonly llmDuration: Histogram;
  readonly llmTokens: Counter;
  readonly llmCost: Counter;
  readonly streamEvents: Counter;
  readonly streamConsumerLag: ObservableGauge;

  private readonly exporter: PrometheusExporter;
  private readonly provider: MeterProvider;

  constructor() {
    this.exporter = new PrometheusExporter({ preventServerStart: true });
    // Without a resource the exposition's target_info names the service unknown_service:node.
    const resource = resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'warden', [ATTR_SERVICE_VERSION]: WARDEN_VERSION });
    this.provider = new MeterProvider({ resource, readers: [this.exporter] });
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
    this.reviewOutcomes = meter.createCounter('warden_review_outcomes', {
      description:
        'Cases decided by a person, by use case, reviewer pseudonym (listed by warden review reviewer-labels), model version and result (agreed with or overrode the automatic outcome, or decided a referral)',
    });
    this.reviewTimeToDecision = meter.createHistogram('warden_review_time_to_decision_seconds', {
      description: 'Time from case creation to its final outcome',
      unit: 's',
      advice: { explicitBucketBoundaries: [1, 10, 60, 300, 900, 1800, 3600, 14_400, 86_400, 259_200] },
    });
    this.reviewSlaBreaches = meter.createCounter('warden_review_sla_breaches', {
      description: 'Cases decided after their SLA deadline, by use case',
    });
    this.reviewQueueDepth = meter.createObservableGauge('warden_review_queue_depth', {
      description: 'Open review cases, by use case, state and whether the SLA deadline has passed',
    });
    this.llmCalls = meter.createCounter('warden_llm_calls', {
      description: 'Calls through the OpenAI-compatible proxy, by model and outcome (ok, blocked, denied, failed, aborted)',
    });
    this.llmDuration = meter.createHistogram('warden_llm_call_duration_seconds', {
      description: 'Time from receiving a proxied LLM call to its last byte and usage record, by model',
      unit: 's',
      advice: { explicitBucketBoundaries: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] },
    });
    this.llmTokens = meter.createCounter('warden_llm_tokens', {
      description: 'Tokens of proxied LLM calls with known usage, by model, type (prompt or completion) and usage source (upstream or local)',
    });
    this.llmCost = meter.createCounter('warden_llm_cost', {
      description: 'Cost of proxied LLM calls with known usage and pricing, by model and currency',
    });
    this.streamEvents = meter.createCounter('warden_stream_events', {
      description: 'Stream events handled, by stream and result (accepted, duplicate, quarantined, dead_letter)',
    });
    this.streamConsumerLag = meter.createObservableGauge('warden_stream_consumer_lag', {
      description: 'Stream events not yet acknowledged by a durable consumer, by stream, consumer and state (pending = not yet delivered, ack_pending = delivered, not acknowledged)',
    });
  }

  /** Reports the lag of a stream consumer from `read` at each scrape; `read` asks the NATS server. */
  observeStreamLag(stream: string, consumer: string, read: () => Promise<{ pending: number; ackPending: number }>): void {
    this.streamConsumerLag.addCallback(async (result) => {
      const lag = await read();
      result.observe(lag.pending, { stream, consumer, state: 'pending' });
      result.observe(lag.ackPending, { stream, consumer, state: 'ack_pending' });
    });
  }

  /**
   * Reports the queue depth from `read` at each scrape. The review service supplies the reader,
   * which counts open cases in the database.
   */
  observeQueueDepth(read: () => Promise<{ useCase: string; state: string; overdue: boolean; count: number }[]>): void {
    this.reviewQueueDepth.addCallback(async (result) => {
      for (const row of await read()) {
        result.observe(row.count, { use_case: row.useCase, state: row.state, overdue: String(row.overdue) });
      }
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
