import type { DataSource } from 'typeorm';
import { loadReasonCodeMap, type ReasonCodeMap } from '../../explain/src/index.js';
import type { LoadedUseCase, UseCaseConfig } from './use-case-config.js';

/**
 * Stores each use-case config and reason-code map that a decision runs under, addressed by its
 * SHA-256, so that a replay uses exactly those versions after the files under policies/ change.
 */
export class PolicySnapshots {
  private readonly stored = new Set<string>();
  private readonly reasonCodeMaps = new Map<string, { map: ReasonCodeMap; hash: string }>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly policyDir: string,
  ) {}

  async ensureUseCase(useCase: LoadedUseCase): Promise<void> {
    await this.store(useCase.configHash, 'use-case', useCase.config.useCase, useCase.config);
  }

  /** Returns the current reason-code map of a use case and stores it as a snapshot on first use. */
  async reasonCodeMap(config: UseCaseConfig): Promise<{ map: ReasonCodeMap; hash: string }> {
    const loaded = await this.currentReasonCodeMap(config);
    await this.store(loaded.hash, 'reason-code-map', config.useCase, loaded.map);
    return loaded;
  }

  /**
   * Returns the current reason-code map of a use case without storing it. For callers inside a
   * transaction: a snapshot write through the data source needs a second connection, and the
   * embedded database's pool has one, so the write would wait for the transaction forever.
   */
  async currentReasonCodeMap(config: UseCaseConfig): Promise<{ map: ReasonCodeMap; hash: string }> {
    let loaded = this.reasonCodeMaps.get(config.useCase);
    if (!loaded) {
      const read = await loadReasonCodeMap(this.policyDir, config.useCase);
      loaded = { map: read.map, hash: read.sha256 };
      this.reasonCodeMaps.set(config.useCase, loaded);
    }
    return loaded;
  }

  async useCaseByHash(hash: string): Promise<UseCaseConfig | undefined> {
    return this.load<UseCaseConfig>(hash, 'use-case');
  }

  async reasonCodeMapByHash(hash: string): Promise<ReasonCodeMap | undefined> {
    return this.load<ReasonCodeMap>(hash, 'reason-code-map');
  }

  private async store(hash: string, kind: string, name: string, content: unknown): Promise<void> {
    if (this.stored.has(hash)) return;
    await this.dataSource.query(
      'INSERT INTO decisions.policy_snapshots (hash, kind, name, content) VALUES ($1, $2, $3, $4) ON CONFLICT (hash) DO NOTHING',
      [hash, kind, name, JSON.stringify(content)],
    );
    this.stored.add(hash);
  }

  private async load<T>(hash: string, kind: string): Promise<T | undefined> {
    const rows: { content: T }[] = await this.dataSource.query('SELECT content FROM decisions.policy_snapshots WHERE hash = $1 AND kind = $2', [hash, kind]);
    return rows[0]?.content;
  }
}
