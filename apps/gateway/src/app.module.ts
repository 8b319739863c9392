import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { GraphQLModule } from '@nestjs/graphql';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import type { ApolloServerPlugin } from '@apollo/server';
import type { WardenRuntime } from '../../../libs/decisions/src/index.js';
import { PolicyGuard } from './auth/policy.guard.js';
import { DecisionResolver } from './graphql/decision.resolver.js';
import { formatGraphqlError } from './graphql/error-format.js';
import { GraphqlExceptionFilter } from './graphql/graphql-exception.filter.js';
import { IngestionResolver } from './graphql/ingestion.resolver.js';
import { HealthController } from './http/health.controller.js';
import { WARDEN_RUNTIME } from './runtime.token.js';

/** Counts and times every GraphQL operation by name and result. */
function metricsPlugin(runtime: WardenRuntime): ApolloServerPlugin {
  return {
    async requestDidStart() {
      const started = process.hrtime.bigint();
      return {
        async willSendResponse(context) {
          const operation = context.operationName ?? 'anonymous';
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
          context: ({ req, res }: { req: unknown; res: unknown }) => ({ req, res }),
          formatError: formatGraphqlError,
          plugins: [metricsPlugin(runtime)],
        }),
      ],
      controllers: [HealthController],
      providers: [
        { provide: WARDEN_RUNTIME, useValue: runtime },
        { provide: APP_GUARD, useClass: PolicyGuard },
        { provide: APP_FILTER, useClass: GraphqlExceptionFilter },
        DecisionResolver,
        IngestionResolver,
      ],
    };
  }
}
