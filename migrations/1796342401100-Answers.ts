import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Lets decision records hold governed answers (`ask`): an answer that needs no review has the
 * outcome ANSWERED; one sent to a reviewer has REFER, like a credit decision in the refer band. The
 * record's JSON says `"kind": "answer"`, so the two shapes never mix in one query.
 */
export class Answers1796342401100 implements MigrationInterface {
  name = 'Answers1796342401100';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE decisions.decision_records DROP CONSTRAINT decision_records_outcome_check');
    await queryRunner.query(
      `ALTER TABLE decisions.decision_records ADD CONSTRAINT decision_records_outcome_check CHECK (outcome IN ('APPROVE', 'DECLINE', 'REFER', 'ANSWERED'))`,
    );
    await queryRunner.query(`CREATE INDEX decision_records_answers ON decisions.decision_records (tenant, created_at) WHERE record->>'kind' = 'answer'`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX IF EXISTS decisions.decision_records_answers');
    await queryRunner.query('ALTER TABLE decisions.decision_records DROP CONSTRAINT decision_records_outcome_check');
    await queryRunner.query(`ALTER TABLE decisions.decision_records ADD CONSTRAINT decision_records_outcome_check CHECK (outcome IN ('APPROVE', 'DECLINE', 'REFER'))`);
  }
}
