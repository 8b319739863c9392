import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import PDFDocument from 'pdfkit';
import { pdfTextLines } from './reviewed-decisions.js';

function renderLine(text: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const document = new PDFDocument();
    const chunks: Buffer[] = [];
    document.on('data', (chunk: Buffer) => chunks.push(chunk));
    document.on('end', () => resolve(Buffer.concat(chunks)));
    document.on('error', reject);
    document.text(text);
    document.end();
  });
}

describe('pdfTextLines', () => {
  it('reads a one-line PDF', async () => {
    assert.deepEqual(pdfTextLines(await renderLine('Check: full verification')), ['Check: full verification']);
  });

  it('reads a stream ending in a carriage return', async () => {
    // Some compressed streams end in byte 0x0d; with these texts the first is found after a few hundred.
    for (let attempt = 0; attempt < 5000; attempt += 1) {
      const text = `line ${attempt} ${(attempt * 0.6180339887) % 1}`;
      const pdf = await renderLine(text);
      if (!pdf.toString('latin1').includes('\r\nendstream')) continue;
      assert.deepEqual(pdfTextLines(pdf), [text]);
      return;
    }
    assert.fail('no rendered text gave a stream ending in a carriage return');
  });
});
