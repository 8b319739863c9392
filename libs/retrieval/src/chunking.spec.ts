import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BadUserInputError } from '../../common/src/index.js';
import { CHUNK_SIZE, chunkDocument, chunkId, formatFromFileName } from './chunking.js';

const scope = { tenant: 'bank-a', collection: 'bank-policies', document: 'credit-policy.md', version: 1 };

const MARKDOWN = [
  '# Credit policy',
  '',
  'Intro paragraph about credit.',
  '',
  '## Adverse action',
  '',
  `${'The bank notifies every applicant of adverse action within thirty days. '.repeat(30)}`,
  '',
  '## Retention',
  '',
  '<a id="r-1"></a>Records are kept for twenty-five months.',
].join('\n');

describe('chunkId', () => {
  it('is stable for the same text and version', () => {
    assert.equal(chunkId(scope, '0', 'text'), chunkId({ ...scope }, '0', 'text'));
  });

  it('changes with version, text, key, document, collection or tenant', () => {
    const base = chunkId(scope, '0', 'text');
    const variants = [
      chunkId({ ...scope, version: 2 }, '0', 'text'),
      chunkId(scope, '0', 'text.'),
      chunkId(scope, '1', 'text'),
      chunkId({ ...scope, document: 'other.md' }, '0', 'text'),
      chunkId({ ...scope, collection: 'other' }, '0', 'text'),
      chunkId({ ...scope, tenant: 'bank-b' }, '0', 'text'),
    ];
    for (const variant of variants) assert.notEqual(variant, base);
    assert.equal(new Set(variants).size, variants.length);
  });

  it('length-prefixes parts so shifted boundaries differ', () => {
    assert.notEqual(chunkId({ ...scope, document: 'ab' }, 'c', 'x'), chunkId({ ...scope, document: 'a' }, 'bc', 'x'));
  });
});

describe('chunkDocument', () => {
  it('splits Markdown and cites the nearest heading', async () => {
    const chunks = await chunkDocument(scope, 'markdown', MARKDOWN);
    assert.ok(chunks.length >= 3, `chunks ${chunks.length}`);
    for (const chunk of chunks) assert.ok(chunk.text.length <= CHUNK_SIZE, `chunk of ${chunk.text.length} characters`);
    const adverse = chunks.filter((chunk) => chunk.text.includes('adverse action within'));
    assert.ok(adverse.length >= 2);
    for (const chunk of adverse) assert.equal(chunk.citation, 'credit-policy.md, Adverse action');
    const retention = chunks.find((chunk) => chunk.text.includes('twenty-five months'))!;
    assert.equal(retention.citation, 'credit-policy.md, Retention');
    assert.ok(!retention.text.includes('<a id'), 'anchors are removed');
    assert.deepEqual(chunks.map((chunk) => chunk.position), chunks.map((_, index) => index));
  });

  it('gives the same ids when chunked again', async () => {
    const first = await chunkDocument(scope, 'markdown', MARKDOWN);
    const second = await chunkDocument(scope, 'markdown', MARKDOWN);
    assert.deepEqual(second.map((chunk) => chunk.id), first.map((chunk) => chunk.id));
    assert.equal(new Set(first.map((chunk) => chunk.id)).size, first.length);
  });

  it('gives new ids for a new version', async () => {
    const first = await chunkDocument(scope, 'markdown', MARKDOWN);
    const next = await chunkDocument({ ...scope, version: 2 }, 'markdown', MARKDOWN);
    assert.equal(first.filter((chunk) => next.some((other) => other.id === chunk.id)).length, 0);
  });

  it('reads JSONL chunks with citation, title and metadata', async () => {
    const jsonl = [
      JSON.stringify({ id: 'art17-1', citation: 'GDPR, Article 17(1)', title: 'Right to erasure', text: 'The data subject shall have the right to erasure.', page: 3 }),
      '',
      JSON.stringify({ citation: '12 CFR 1002.9(b)(2)', text: 'Statement of specific reasons.' }),
    ].join('\n');
    const chunks = await chunkDocument({ ...scope, document: 'rules.jsonl' }, 'jsonl', jsonl);
    assert.equal(chunks.length, 2);
    assert.equal(chunks[0].citation, 'GDPR, Article 17(1)');
    assert.equal(chunks[0].title, 'Right to erasure');
    assert.deepEqual(chunks[0].metadata, { id: 'art17-1', page: 3 });
    assert.equal(chunks[1].citation, '12 CFR 1002.9(b)(2)');
    assert.equal(chunks[1].title, null);
  });

  it('splits a long JSONL text and keeps its citation', async () => {
    const text = 'A long article sentence that goes on. '.repeat(100);
    const chunks = await chunkDocument(scope, 'jsonl', JSON.stringify({ id: 'a1', citation: 'Act, Article 1', text }));
    assert.ok(chunks.length >= 3, `chunks ${chunks.length}`);
    for (const chunk of chunks) assert.equal(chunk.citation, 'Act, Article 1');
    assert.deepEqual(chunks.map((chunk) => chunk.metadata.part), chunks.map((_, index) => index + 1));
  });

  it('rejects a JSONL line without citation, naming the line', async () => {
    await assert.rejects(chunkDocument(scope, 'jsonl', `${JSON.stringify({ text: 'a', citation: 'c' })}\n${JSON.stringify({ text: 'b' })}`), (error: unknown) => {
      assert.ok(error instanceof BadUserInputError);
      assert.equal(error.fieldErrors[0].field, '/2/citation');
      return true;
    });
  });

  it('rejects invalid JSON and repeated ids', async () => {
    await assert.rejects(chunkDocument(scope, 'jsonl', '{not json'), /line 1: line is not valid JSON/);
    const repeated = [JSON.stringify({ id: 'x', text: 'a', citation: 'c' }), JSON.stringify({ id: 'x', text: 'b', citation: 'c' })].join('\n');
    await assert.rejects(chunkDocument(scope, 'jsonl', repeated), /repeats id "x"/);
  });

  it('cites plain text by its heading-like lines', async () => {
    const text = `Data retention\n\n${'Applications are kept for twenty-five months after notice. '.repeat(5)}`;
    const chunks = await chunkDocument({ ...scope, document: 'retention.txt' }, 'text', text);
    assert.equal(chunks.at(-1)!.citation, 'retention.txt, Data retention');
  });
});

describe('formatFromFileName', () => {
  it('maps extensions', () => {
    assert.equal(formatFromFileName('a.MD'), 'markdown');
    assert.equal(formatFromFileName('a.txt'), 'text');
    assert.equal(formatFromFileName('a.jsonl'), 'jsonl');
    assert.equal(formatFromFileName('a.pdf'), undefined);
  });
});
