import { Controller, Get, Inject, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { getLogger } from '../../../../libs/common/src/index.js';
import type { WardenRuntime } from '../../../../libs/decisions/src/index.js';
import { Public } from '../auth/requires.decorator.js';
import { WARDEN_RUNTIME } from '../runtime.token.js';

/** Liveness, readiness and Prometheus metrics. Public, and none of them returns business data. */
@Controller()
export class HealthController {
  private readonly log = getLogger('health');

  constructor(@Inject(WARDEN_RUNTIME) private readonly runtime: WardenRuntime) {}

  @Public()
  @Get('healthz')
  healthz(): { status: string } {
    return { status: 'ok' };
  }

  /** Reports ready when the database responds and every migration is applied. */
  @Public()
  @Get('readyz')
  async readyz(@Res() response: Response): Promise<void> {
    try {
      const pending = await this.runtime.database.dataSource.showMigrations();
      await this.runtime.database.dataSource.query('SELECT 1');
      if (pending) {
        response.status(503).json({ status: 'not ready', reason: 'migrations pending' });
        return;
      }
      response.status(200).json({ status: 'ready', database: this.runtime.database.mode });
    } catch (error) {
      this.log.error({ err: error }, 'readiness check failed');
      response.status(503).json({ status: 'not ready', reason: 'database unavailable' });
    }
  }

  @Public()
  @Get('metrics')
  metrics(@Req() request: Request, @Res() response: Response): void {
    this.runtime.metrics.handleScrape(request, response);
  }
}
