import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { BadUserInputError } from '../../../common/src/index.js';
import {
  computeKeyHash,
  formatCheckpoint,
  formatVerifierKey,
  keyIdOf,
  parseCheckpoint,
  parseVerifierKey,
  rawEd25519PublicKey,
  signCheckpoint,
  verifyCheckpoint,
  type CheckpointBody,
  type CheckpointSigner,
} from './checkpoint-note.js';

/** RFC 8032 section 7.1, test 1: a fixed Ed25519 key, so the expected bytes below never change. */
const RFC8032_SEED = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';
const RFC8032_PUBLIC = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';

function fixedSigner(keyName: string): CheckpointSigner {
  const pkcs8Prefix = Buffer.from('302e020100300506032b657004220420', 'hex');
  const privateKey = createPrivateKey({ key: Buffer.concat([pkcs8Prefix, Buffer.from(RFC8032_SEED, 'hex')]), format: 'der', type: 'pkcs8' });
  return { keyName, privateKey, publicKey: rawEd25519PublicKey(privateKey) };
}

function randomSigner(keyName: string): CheckpointSigner {
  const { privateKey } = generateKeyPairSync('ed25519');
  return { keyName, privateKey: privateKey as KeyObject, publicKey: rawEd25519PublicKey(privateKey) };
}

const ORIGIN = 'warden.example-bank.test/ledger';
const ROOT = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const BODY: CheckpointBody = { origin: ORIGIN, treeSize: 42, rootHash: ROOT, time: '2026-01-31T09:15:00.123Z' };

describe('formatCheckpoint', () => {
  it('writes the C2SP checkpoint lines', () => {
    assert.equal(
      formatCheckpoint(BODY),
      'warden.example-bank.test/ledger\n42\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\ntime 2026-01-31T09:15:00.123Z\n',
    );
  });

  it('writes size 0 without leading zeros', () => {
    assert.equal(formatCheckpoint({ ...BODY, treeSize: 0 }).split('\n')[1], '0');
  });

  it('rejects invalid fields by name', () => {
    const error = (() => {
      try {
        formatCheckpoint({ origin: ORIGIN, treeSize: -1, rootHash: 'ABC', time: '2026-01-31' });
      } catch (caught) {
        return caught as BadUserInputError;
      }
      return undefined;
    })();
    assert.ok(error instanceof BadUserInputError);
    assert.deepEqual(
      error.fieldErrors.map((fieldError) => fieldError.field),
      ['/treeSize', '/rootHash', '/time'],
    );
  });

  it('rejects an origin with whitespace or plus', () => {
    for (const origin of ['', 'warden local', 'warden+local', 'warden\nlocal']) {
      assert.throws(() => formatCheckpoint({ ...BODY, origin }), BadUserInputError, JSON.stringify(origin));
    }
  });
});

describe('key hash and verifier key', () => {
  it('derives the key hash from name and key', () => {
    const signer = fixedSigner(ORIGIN);
    assert.equal(Buffer.from(signer.publicKey).toString('hex'), RFC8032_PUBLIC);
    const expected = createHash('sha256')
      .update(Buffer.concat([Buffer.from(`${ORIGIN}\n`), Buffer.from([0x01]), Buffer.from(RFC8032_PUBLIC, 'hex')]))
      .digest()
      .subarray(0, 4);
    assert.deepEqual(computeKeyHash(ORIGIN, signer.publicKey), expected);
    assert.equal(keyIdOf(ORIGIN, signer.publicKey), `${ORIGIN}+${expected.toString('hex')}`);
  });

  it('round-trips a verifier key', () => {
    const signer = fixedSigner(ORIGIN);
    const vkey = formatVerifierKey(ORIGIN, signer.publicKey);
    assert.equal(vkey, `${keyIdOf(ORIGIN, signer.publicKey)}+AddamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea`);
    const parsed = parseVerifierKey(vkey);
    assert.equal(parsed.keyName, ORIGIN);
    assert.equal(Buffer.from(parsed.publicKey).toString('hex'), RFC8032_PUBLIC);
  });

  it('rejects a verifier key with a wrong hash', () => {
    const vkey = formatVerifierKey(ORIGIN, fixedSigner(ORIGIN).publicKey);
    const parts = vkey.split('+');
    const tampered = `${parts[0]}+00000000+${parts[2]}`;
    assert.throws(() => parseVerifierKey(tampered), /verifier key/);
  });
});

describe('signCheckpoint and verifyCheckpoint', () => {
  it('produces a deterministic signature line', () => {
    const signer = fixedSigner(ORIGIN);
    const note = signCheckpoint(formatCheckpoint(BODY), signer);
    const lines = note.split('\n');
    assert.equal(lines.length, 7);
    assert.equal(lines[4], '');
    assert.ok(lines[5].startsWith(`\u2014 ${ORIGIN} `));
    assert.equal(lines[6], '');
    // Ed25519 signatures are deterministic, so the same key and body always give this line.
    const signature = Buffer.from(lines[5].split(' ')[2], 'base64');
    assert.equal(signature.length, 68);
    assert.deepEqual(signature.subarray(0, 4), computeKeyHash(ORIGIN, signer.publicKey));
    assert.equal(signCheckpoint(formatCheckpoint(BODY), signer), note);
  });

  it('round-trips a signed note', () => {
    const signer = randomSigner(ORIGIN);
    const note = signCheckpoint(formatCheckpoint(BODY), signer);
    const result = verifyCheckpoint(note, [{ keyName: ORIGIN, publicKey: signer.publicKey }]);
    assert.equal(result.ok, true);
    if (!result.ok) return;
    assert.equal(result.checkpoint.origin, ORIGIN);
    assert.equal(result.checkpoint.treeSize, 42);
    assert.equal(result.checkpoint.rootHash, ROOT);
    assert.equal(result.checkpoint.time, BODY.time);
    assert.deepEqual(result.checkpoint.extensions, []);
    assert.deepEqual(result.keyIds, [keyIdOf(ORIGIN, signer.publicKey)]);
  });

  it('rejects a tampered tree size', () => {
    const signer = randomSigner(ORIGIN);
    const note = signCheckpoint(formatCheckpoint(BODY), signer).replace('\n42\n', '\n43\n');
    const result = verifyCheckpoint(note, [{ keyName: ORIGIN, publicKey: signer.publicKey }]);
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.problem, 'bad-signature');
  });

  it('rejects a tampered time line', () => {
    const signer = randomSigner(ORIGIN);
    const note = signCheckpoint(formatCheckpoint(BODY), signer).replace('09:15:00.123Z', '09:15:01.123Z');
    const result = verifyCheckpoint(note, [{ keyName: ORIGIN, publicKey: signer.publicKey }]);
    assert.equal(!result.ok && result.problem, 'bad-signature');
  });

  it('rejects a key under the same name', () => {
    const signer = randomSigner(ORIGIN);
    const other = randomSigner(ORIGIN);
    const note = signCheckpoint(formatCheckpoint(BODY), signer);
    const result = verifyCheckpoint(note, [{ keyName: ORIGIN, publicKey: other.publicKey }]);
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.problem, 'unknown-key');
  });

  it('rejects a forged signature with a known key hash', () => {
    const signer = randomSigner(ORIGIN);
    const note = signCheckpoint(formatCheckpoint(BODY), signer);
    const line = note.split('\n')[5];
    const bytes = Buffer.from(line.split(' ')[2], 'base64');
    bytes[10] ^= 0xff;
    const forged = note.replace(line, `\u2014 ${ORIGIN} ${bytes.toString('base64')}`);
    const result = verifyCheckpoint(forged, [{ keyName: ORIGIN, publicKey: signer.publicKey }]);
    assert.equal(!result.ok && result.problem, 'bad-signature');
  });

  it('rejects a note without known keys', () => {
    const signer = randomSigner(ORIGIN);
    const note = signCheckpoint(formatCheckpoint(BODY), signer);
    const result = verifyCheckpoint(note, []);
    assert.equal(!result.ok && result.problem, 'unknown-key');
    assert.match(!result.ok ? result.reason : '', new RegExp(keyIdOf(ORIGIN, signer.publicKey).replace(/[.+]/g, '\\$&')));
  });

  it('ignores a cosignature of an unknown key', () => {
    const signer = randomSigner(ORIGIN);
    const witness = randomSigner('witness.example.test');
    const note = signCheckpoint(formatCheckpoint(BODY), signer);
    const cosigned = signCheckpoint(formatCheckpoint(BODY), witness).split('\n')[5];
    const result = verifyCheckpoint(`${note}${cosigned}\n`, [{ keyName: ORIGIN, publicKey: signer.publicKey }]);
    assert.equal(result.ok, true);
    assert.equal(result.ok && result.checkpoint.signatures.length, 2);
  });

  it('verifies against one of several keys', () => {
    const retired = randomSigner(ORIGIN);
    const current = randomSigner(ORIGIN);
    const keys = [retired, current].map((signer) => ({ keyName: ORIGIN, publicKey: signer.publicKey }));
    assert.equal(verifyCheckpoint(signCheckpoint(formatCheckpoint(BODY), retired), keys).ok, true);
    assert.equal(verifyCheckpoint(signCheckpoint(formatCheckpoint(BODY), current), keys).ok, true);
  });
});

describe('parseCheckpoint', () => {
  const signer = fixedSigner(ORIGIN);
  const note = signCheckpoint(formatCheckpoint(BODY), signer);
  const [origin, size, root, time, blank, signature] = note.split('\n');

  const malformedNotes: Record<string, string> = {
    'no trailing newline': note.slice(0, -1),
    'no blank line': `${origin}\n${size}\n${root}\n${time}\n${signature}\n`,
    'no signature line': `${origin}\n${size}\n${root}\n${time}\n\n`,
    'missing time line': `${origin}\n${size}\n${root}\n${blank}\n${signature}\n`,
    'two time lines': `${origin}\n${size}\n${root}\n${time}\n${time}\n\n${signature}\n`,
    'leading zero in size': `${origin}\n042\n${root}\n${time}\n\n${signature}\n`,
    'negative size': `${origin}\n-42\n${root}\n${time}\n\n${signature}\n`,
    'hex root': `${origin}\n${size}\n${ROOT}\n${time}\n\n${signature}\n`,
    'short root': `${origin}\n${size}\nAAAA\n${time}\n\n${signature}\n`,
    'space in origin': `warden local\n${size}\n${root}\n${time}\n\n${signature}\n`,
    'hyphen instead of em dash': `${origin}\n${size}\n${root}\n${time}\n\n${signature.replace('\u2014', '-')}\n`,
    'signature without key name': `${origin}\n${size}\n${root}\n${time}\n\n\u2014 ${signature.split(' ')[2]}\n`,
    'short signature': `${origin}\n${size}\n${root}\n${time}\n\n\u2014 ${ORIGIN} AAAA\n`,
    'bad time': `${origin}\n${size}\n${root}\ntime yesterday\n\n${signature}\n`,
    'empty extension line': `${origin}\n${size}\n${root}\n${time}\n\n\n${signature}\n`,
  };

  for (const [name, text] of Object.entries(malformedNotes)) {
    it(`rejects ${name}`, () => {
      assert.throws(() => parseCheckpoint(text), BadUserInputError);
      const result = verifyCheckpoint(text, [{ keyName: ORIGIN, publicKey: signer.publicKey }]);
      assert.equal(result.ok, false);
      assert.equal(!result.ok && result.problem, 'malformed');
    });
  }

  it('keeps other extension lines', () => {
    const body = `${origin}\n${size}\n${root}\n${time}\nregion eu-west\n`;
    const parsed = parseCheckpoint(signCheckpoint(body, signer));
    assert.deepEqual(parsed.extensions, ['region eu-west']);
    assert.equal(parsed.time, BODY.time);
  });

  it('returns the signed body', () => {
    const parsed = parseCheckpoint(note);
    assert.equal(parsed.body, formatCheckpoint(BODY));
    assert.equal(parsed.signatures.length, 1);
    assert.equal(parsed.signatures[0].keyName, ORIGIN);
    assert.equal(parsed.signatures[0].keyHash, computeKeyHash(ORIGIN, signer.publicKey).toString('hex'));
  });
});
