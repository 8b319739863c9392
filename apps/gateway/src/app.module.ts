import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { GraphQLModule } from '@nestjs/graphql';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import type { ApolloServerPlugin } from '@apollo/server';
import { Kind, type SelectionSetNode } from 'graphql';
import { MAX_QUERY_TOKENS, maxRootFieldsRule } from './graphql/operation-limits.js';
import type { WardenRuntime } from '../../../libs/decisions/src/index.js';
import { PolicyGuard } from './auth/policy.guard.js';
import { AnswerResolver } from './graphql/answer.resolver.js';
import { AuditResolver } from './graphql/audit.resolver.js';
import { DecisionResolver } from './graphql/decision.resolver.js';
import { formatGraphqlError } from './graphql/error-format.js';
import { GraphqlExceptionFilter } from './graphql/graphql-exception.filter.js';
import { GuardrailResolver } from './graphql/guardrail.resolver.js';
import { IngestionResolver } from './graphql/ingestion.resolver.js';
import { LlmResolver } from './graphql/llm.resolver.js';
import { DecisionReviewResolver, OversightResolver, ReviewResolver } from './graphql/review.resolver.js';
import { RetrievalResolver } from './graphql/retrieval.resolver.js';
import { FeatureResolver } from './graphql/feature.resolver.js';
import { HealthController } from './http/health.controller.js';
import { ProxyController } from './proxy/proxy.controller.js';
import { WARDEN_RUNTIME } from './runtime.token.js';

/** Reads the token of a graphql-ws connection from `authorization` in connectionParams, with or without "Bearer ". */
function bearerFromParams(params: Readonly<Record<string, unknown>> | undefined): string | undefined {
  const value = params?.authorization ?? params?.Authorization;
  if (typeof value !== 'string') return undefined;
  return value.replace(/^Bearer\s+/i, '');
}

/**
 * GraphQL context: the HTTP request for queries and mutations. A subscription has no HTTP request,
 * so its connection's token is presented as a request header, and the policy guard checks it
 * like any other.
 */
function graphqlContext(context: { req?: unknown; res?: unknown; connectionParams?: Readonly<Record<string, unknown>> }) {
  if (context.req) return { req: context.req, res: context.res };
  const token = bearerFromParams(context.connectionParams);
  return { req: { headers: { authorization: token ? `Bearer ${token}` : undefined } } };
}

/** Names the root fields of a validated operation, such as `decide` or `decision+replayDecision`. */
function rootFieldLabel(selectionSet: SelectionSetNode | undefined): string {
  if (!selectionSet) return 'invalid';
  const names = new Set<string>();
  for (const selection of selectionSet.selections) {
    names.add(selection.kind === Kind.FIELD ? selection.name.value : 'fragment');
  }
  return [...names].sort().join('+') || 'empty';
}

/** Counts and times every GraphQL operation by root field and result. */
function metricsPlugin(runtime: WardenRuntime): ApolloServerPlugin {
  return {
    async requestDidStart() {
      const started = process.hrtime.bigint();
      return {
        async willSendResponse(context) {
          // Labelled by the root fields the schema resolved, never by the caller's operation name,
          // which any client could vary to create unbounded metric series.
          const operation = rootFieldLabel(context.operation?.selectionSet);
          const result = context.errors && context.errors.length > 0 ? 'error' : 'ok';
          runtime.metrics.graphqlRequests.add(1, { operation, result });
          runtime.metrics.graphqlDuration.record(Number(process.hrtime.bigint() - started) / 1e9, { operation });
        },
      };
    },
  };
}

@Module({})
export class AppModule {
  static forRuntime(runtime: WardenRuntime): DynamicModule {
    return {
      module: AppModule,
      imports: [
        GraphQLModule.forRoot<ApolloDriverConfig>({
          driver: ApolloDriver,
          path: '/graphql',
          autoSchemaFile: true,
          sortSchema: true,
          playground: false,
          introspection: true,
          includeStacktraceInErrorResponses: false,
          // Bearer tokens, not cookies, authenticate callers, so cross-site request forgery cannot
          // borrow a session; the CSRF preflight rule would only break GET requests.
          csrfPrevention: false,
          context: graphqlContext,
          // Subscriptions use the graphql-ws protocol on the same path; the client sends its token
          // as connectionParams.authorization, and a connection without a valid one is refused.
          subscriptions: {
            'graphql-ws': {
              onConnect: async (context: { connectionParams?: Readonly<Record<string, unknown>> }) => {
                try {
                  await runtime.tokens.verify(bearerFromParams(context.connectionParams) ?? '');
                  return true;
                } catch {
                  return false;
                }
              },
            },
          },
          formatError: (formatted, error) => formatGraphqlError(formatted, error, runtime.database),
          parseOptions: { maxTokens: MAX_QUERY_TOKENS },
          validationRules: [maxRootFieldsRule],
          plugins: [metricsPlugin(runtime)],
        }),
      ],
      controllers: [HealthController, ProxyController],
      providers: [
        { provide: WARDEN_RUNTIME, useValue: runtime },
        { provide: APP_GUARD, useClass: PolicyGuard },
        { provide: APP_FILTER, useClass: GraphqlExceptionFilter },
        DecisionResolver,
        IngestionResolver,
        AuditResolver,
        ReviewResolver,
        OversightResolver,
        DecisionReviewResolver,
        GuardrailResolver,
        AnswerResolver,
        LlmResolver,
        RetrievalResolver,
        FeatureResolver,
      ],
    };
  }
}
