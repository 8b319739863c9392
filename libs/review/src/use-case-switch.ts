import type { DataSource } from 'typeorm';
import { BadUserInputError, ConflictError, getLogger } from '../../common/src/index.js';
import { checkFreeText } from './case-state.js';
import { keyedTextDigest, newTextSalt, type PostgresLedger } from '../../audit/src/index.js';
import type { Principal } from '../../policy/src/index.js';

export interface UseCaseStatus {
  useCase: string;
  suspended: boolean;
  reason: string | null;
  changedBy: string | null;
  changedAt: Date | null;
}

const REASON_MIN = 10;
const REASON_MAX = 1000;

interface SwitchRow {
  suspended: boolean;
  reason: string;
  actor: string;
  created_at: Date;
}

/**
 * The stop switch of each use case and tenant (EU AI Act Art. 14(4)(e)): a permitted person
 * suspends it with a reason, and `decide` reads the switch on every request, so a suspension
 * takes effect on every replica with the next request. Each change is an append-only row and a
 * ledger entry.
 */
export class UseCaseSwitch {
  private readonly log = getLogger('use-case-switch');

  constructor(
    private readonly dataSource: DataSource,
    private readonly ledger: PostgresLedger,
    private readonly knownUseCases: () => string[],
  ) {}

  async status(tenant: string, useCase: string): Promise<UseCaseStatus> {
    this.requireKnown(useCase);
    const row = await this.latest(tenant, useCase);
    return {
      useCase,
      suspended: row?.suspended ?? false,
      reason: row?.reason ?? null,
      changedBy: row?.actor ?? null,
      changedAt: row ? new Date(row.created_at) : null,
    };
  }

  async isSuspended(tenant: string, useCase: string): Promise<boolean> {
    return (await this.latest(tenant, useCase))?.suspended ?? false;
  }

  suspend(principal: Principal, useCase: string, reason: string): Promise<UseCaseStatus> {
    return this.change(principal, useCase, reason, true);
  }

  resume(principal: Principal, useCase: string, reason: string): Promise<UseCaseStatus> {
    return this.change(principal, useCase, reason, false);
  }

  private async change(principal: Principal, useCase: string, reason: string, suspended: boolean): Promise<UseCaseStatus> {
    this.requireKnown(useCase);
    checkFreeText(reason, 'reason', REASON_MIN, REASON_MAX, `${suspended ? 'Suspending' : 'Resuming'} a use case needs a reason.`);
    const trimmed = reason.trim();
    await this.dataSource.transaction(async (manager) => {
      // Serializes changes of one switch, so two people cannot both suspend it.
      await manager.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`warden-switch:${principal.tenant}:${useCase}`]);
      const [current] = (await manager.query(
        'SELECT suspended FROM review.use_case_switch_events WHERE tenant = $1 AND use_case = $2 ORDER BY id DESC LIMIT 1',
        [principal.tenant, useCase],
      )) as { suspended: boolean }[];
      if ((current?.suspended ?? false) === suspended) {
        throw new ConflictError(`Use case ${useCase} is already ${suspended ? 'suspended' : 'active'}.`);
      }
      // The reason may name people (a complainant, a reviewer), so the ledger gets only its keyed digest.
      const salt = newTextSalt();
      const receipt = await this.ledger.append(manager, {
        type: suspended ? 'use_case.suspended' : 'use_case.resumed',
        tenant: principal.tenant,
        actor: principal.subject,
        payload: { useCase, reasonHmac: keyedTextDigest(trimmed, salt) },
      });
      await manager.query(
        `INSERT INTO review.use_case_switch_events (tenant, use_case, suspended, reason, reason_salt, actor, ledger_seq, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, now())`,
        [principal.tenant, useCase, suspended, trimmed, salt, principal.subject, receipt.seq],
      );
    });
    this.log.warn({ useCase, tenant: principal.tenant, actor: principal.subject, suspended }, suspended ? 'use case suspended' : 'use case resumed');
    return this.status(principal.tenant, useCase);
  }

  private async latest(tenant: string, useCase: string): Promise<SwitchRow | undefined> {
    const rows: SwitchRow[] = await this.dataSource.query(
      'SELECT suspended, reason, actor, created_at FROM review.use_case_switch_events WHERE tenant = $1 AND use_case = $2 ORDER BY id DESC LIMIT 1',
      [tenant, useCase],
    );
    return rows[0];
  }

  private requireKnown(useCase: string): void {
    const known = this.knownUseCases();
    if (!known.includes(useCase)) {
      throw new BadUserInputError(`Unknown use case "${useCase.slice(0, 64)}".`, [{ field: 'useCase', message: `must be one of ${known.join(', ')}` }]);
    }
  }
}
