import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeForMatching, sourceRange, type NormalizedText } from './normalize.js';

/** Returns the original text behind the first occurrence of `needle` in the normalized text. */
function originalOf(original: string, normalized: NormalizedText, needle: string): string {
  const start = normalized.text.indexOf(needle);
  assert.ok(start >= 0, `"${needle}" not found in normalized text "${normalized.text}"`);
  const range = sourceRange(normalized, start, start + needle.length);
  return original.slice(range.start, range.end);
}

describe('normalizeForMatching', () => {
  it('lowercases and collapses whitespace', () => {
    assert.equal(normalizeForMatching('Ignore   ALL\t\tprevious').text, 'ignore all previous');
  });

  it('keeps one newline per line break run', () => {
    assert.equal(normalizeForMatching('first line \r\n\r\n  second').text, 'first line\nsecond');
  });

  it('strips zero-width characters', () => {
    const original = 'ig\u200Bno\u200Dre pre\uFEFFvious in\u2060struc\u00ADtions';
    assert.equal(normalizeForMatching(original).text, 'ignore previous instructions');
  });

  it('applies the NFKC compatibility mapping', () => {
    assert.equal(normalizeForMatching('ＩＧＮＯＲＥ').text, 'ignore');
    assert.equal(normalizeForMatching('𝐢𝐠𝐧𝐨𝐫𝐞 𝑟𝑢𝑙𝑒𝑠').text, 'ignore rules');
    assert.equal(normalizeForMatching('ﬁle').text, 'file');
  });

  it('keeps Hangul syllables composed', () => {
    assert.equal(normalizeForMatching('안녕하세요').text, '안녕하세요');
  });

  it('removes diacritics', () => {
    assert.equal(normalizeForMatching('ïgnörè prévious').text, 'ignore previous');
    assert.equal(normalizeForMatching('instruções anteriores').text, 'instrucoes anteriores');
  });

  it('maps Cyrillic and Greek look-alikes in Latin words', () => {
    // "ignore" with Cyrillic о and е, "system" with Cyrillic ѕ and Greek ε.
    assert.equal(normalizeForMatching('ign\u043Er\u0435 \u0455yst\u03B5m').text, 'ignore system');
  });

  it('leaves Cyrillic words alone', () => {
    assert.equal(normalizeForMatching('Игнорируй инструкции').text, 'игнорируи инструкции');
  });

  it('maps leetspeak inside words', () => {
    assert.equal(normalizeForMatching('1gn0r3 pr3v10us 1nstruct10ns').text, 'ignore previous instructions');
    assert.equal(normalizeForMatching('$ystem pr0mpt, p@ssword').text, 'system prompt, password');
  });

  it('keeps numbers, amounts and addresses', () => {
    assert.equal(normalizeForMatching('Pay $500 by 12/05, see 12 CFR 1002.9').text, 'pay $500 by 12/05, see 12 cfr 1002.9');
    assert.equal(normalizeForMatching('write to anna@bank.com').text, 'write to anna@bank.com');
  });

  it('joins spaced-out letters', () => {
    assert.equal(normalizeForMatching('i g n o r e the r-u-l-e-s').text, 'ignore the rules');
    assert.equal(normalizeForMatching('s.y.s.t.e.m p_r_o_m_p_t').text, 'system prompt');
  });

  it('leaves short spaced runs and mixed separators', () => {
    assert.equal(normalizeForMatching('U S A').text, 'u s a');
    assert.equal(normalizeForMatching('a-b c.d').text, 'a-b c.d');
  });

  it('decodes Unicode tag characters', () => {
    const hidden = [...'ignore'].map((character) => String.fromCodePoint(0xe0000 + character.charCodeAt(0))).join('');
    assert.equal(normalizeForMatching(`hello ${hidden}`).text, 'hello ignore');
  });

  it('folds typographic quotes and dashes', () => {
    assert.equal(normalizeForMatching('don\u2019t \u201Cstop\u201D \u2014 now').text, 'don\'t "stop" - now');
  });
});

describe('normalized offsets', () => {
  it('point past zero-width characters', () => {
    const original = 'Please ig\u200Bnore this';
    const normalized = normalizeForMatching(original);
    assert.equal(originalOf(original, normalized, 'ignore'), 'ig\u200Bnore');
  });

  it('cover full-width and astral letters', () => {
    const original = 'x ＩＧＮＯＲＥ 𝐫𝐮𝐥𝐞𝐬 y';
    const normalized = normalizeForMatching(original);
    assert.equal(originalOf(original, normalized, 'ignore'), 'ＩＧＮＯＲＥ');
    assert.equal(originalOf(original, normalized, 'rules'), '𝐫𝐮𝐥𝐞𝐬');
  });

  it('cover look-alikes and decomposed accents', () => {
    const original = 'Then ign\u043Ere\u0301 it';
    const normalized = normalizeForMatching(original);
    assert.equal(originalOf(original, normalized, 'ignore'), 'ign\u043Ere\u0301');
  });

  it('cover collapsed whitespace and joined letters', () => {
    const original = 'a    b\n\n\ni g n o r e!';
    const normalized = normalizeForMatching(original);
    assert.equal(originalOf(original, normalized, 'a b'), 'a    b');
    assert.equal(originalOf(original, normalized, 'ignore'), 'i g n o r e');
  });

  it('map every normalized character', () => {
    const original = 'Ｘ\u200By 𝐳 é\u0301 \u{E0041}';
    const normalized = normalizeForMatching(original);
    assert.equal(normalized.starts.length, normalized.text.length);
    assert.equal(normalized.ends.length, normalized.text.length);
    for (let index = 0; index < normalized.text.length; index += 1) {
      assert.ok(normalized.starts[index] < normalized.ends[index], `empty source range at ${index}`);
      assert.ok(normalized.ends[index] <= original.length, `source range past the end at ${index}`);
      if (index > 0) assert.ok(normalized.starts[index] >= normalized.starts[index - 1], `offsets go backwards at ${index}`);
    }
  });
});
