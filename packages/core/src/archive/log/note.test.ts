import { describe, expect, it } from 'vitest';
import { isWabridgeError } from '../../errors/index.ts';
import { generateLogKey, noteSigner, noteVerifier, openNote, signNote } from './note.ts';

// The example key and note of Go's golang.org/x/mod/sumdb/note (note_test.go and the package
// documentation). Ed25519 signatures are deterministic (RFC 8032), so signing the same text with
// the same key must give the published note byte for byte: then Go's tools, witnesses and any
// C2SP verifier accept wabridge's checkpoints, and the other way round.
const GO_SIGNER = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const GO_VERIFIER = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const GO_TEXT =
  "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const GO_NOTE = `${GO_TEXT}\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`;

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (isWabridgeError(error)) return error.code;
    throw error;
  }
  return 'accepted';
}

describe('signed notes (C2SP signed-note)', () => {
  it('sign the Go reference note byte for byte and open it with the Go verifier key', () => {
    const signer = noteSigner(GO_SIGNER);
    expect(signer.keyId.toString(16)).toBe('c74f20a3');
    expect(signNote(GO_TEXT, [signer])).toBe(GO_NOTE);
    const verifier = noteVerifier(GO_VERIFIER);
    expect(verifier.verifierKey).toBe(GO_VERIFIER);
    expect(openNote(GO_NOTE, [verifier])).toEqual({ ok: true, text: GO_TEXT, signedBy: ['PeterNeumann'] });
  });

  it('give the same key in every exported form', () => {
    const key = generateLogKey('wabridge.example.com/archive/acme');
    expect(key.verifierKey).toMatch(
      /^wabridge\.example\.com\/archive\/acme\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}$/,
    );
    expect(key.signerKey.startsWith(`PRIVATE+KEY+${key.name}+`)).toBe(true);
    expect(key.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect(key.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const fromPem = noteVerifier(key.publicKeyPem, key.name);
    expect(fromPem.verifierKey).toBe(key.verifierKey);
    const text = 'hello\n';
    for (const signer of [noteSigner(key.signerKey), noteSigner(key.privateKeyPem, key.name)]) {
      const note = signNote(text, [signer]);
      expect(openNote(note, [noteVerifier(key.verifierKey)]).ok).toBe(true);
      expect(openNote(note, [fromPem]).ok).toBe(true);
    }
  });

  it('fail for a key of the same name that did not sign, and ignore signatures of unknown keys', () => {
    const ours = generateLogKey('example.com/log');
    const impostor = generateLogKey('example.com/log');
    const witness = generateLogKey('witness.example');
    const text = 'example.com/log\n1\n';
    const byImpostor = signNote(text, [noteSigner(impostor.signerKey)]);
    expect(openNote(byImpostor, [noteVerifier(ours.verifierKey)])).toEqual({
      ok: false,
      reason: 'no signature from a trusted key',
    });
    const cosigned = signNote(text, [noteSigner(witness.signerKey), noteSigner(ours.signerKey)]);
    expect(openNote(cosigned, [noteVerifier(ours.verifierKey)])).toMatchObject({
      ok: true,
      signedBy: ['example.com/log'],
    });
  });

  it('reject the whole note when a trusted key’s signature fails, even beside a good one', () => {
    const key = generateLogKey('example.com/log');
    const good = signNote('a\n', [noteSigner(key.signerKey)]);
    const [, line] = good.split('\n\n') as [string, string];
    const other = signNote('b\n', [noteSigner(key.signerKey)]).split('\n\n')[1] as string;
    const verdict = openNote(`a\n\n${line}${other}`, [noteVerifier(key.verifierKey)]);
    expect(verdict).toEqual({ ok: false, reason: 'the signature by example.com/log does not verify' });
  });

  it('reject malformed notes with a reason, never a throw', () => {
    const key = generateLogKey('example.com/log');
    const verifiers = [noteVerifier(key.verifierKey)];
    const note = signNote('a\nb\n', [noteSigner(key.signerKey)]);
    // The signature ends "X=\n": X's two low bits are padding; setting one gives the same bytes
    // to a lenient decoder, and must be refused.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const last = note.at(-3) as string;
    const nonCanonical = `${note.slice(0, -3)}${alphabet[alphabet.indexOf(last) ^ 1]}=\n`;
    const cases: Array<[string, string | Uint8Array, RegExp]> = [
      ['no blank line', note.replace('\n\n', '\n'), /no blank line/],
      ['no final newline', note.slice(0, -1), /end with a newline/],
      ['a hyphen for the em dash', note.replace('—', '-'), /malformed signature line/],
      ['a control character', note.replace('a', 'a\t'), /control character/],
      ['a carriage return', note.replace('a\n', 'a\r\n'), /control character/],
      ['invalid UTF-8', new Uint8Array([...new TextEncoder().encode(note), 0xff]), /UTF-8/],
      ['a lone surrogate', note.replace('a', '\ud800'), /Unicode/],
      ['no signature', 'a\n\n', /no signature lines/],
      ['a short signature', 'a\n\n— example.com/log AAAA\n', /malformed signature line/],
      ['non-canonical base64', nonCanonical, /malformed signature line/],
      ['101 signatures', `a\n\n${'— x AAAAAAAA\n'.repeat(101)}`, /more than 100/],
    ];
    for (const [what, bad, reason] of cases) {
      const verdict = openNote(bad, verifiers);
      expect(verdict.ok, what).toBe(false);
      if (!verdict.ok) expect(verdict.reason, what).toMatch(reason);
    }
  });

  it('refuse to sign text a verifier would reject', () => {
    const signer = noteSigner(generateLogKey('example.com/log').signerKey);
    expect(configError(() => signNote('no newline', [signer]))).toBe('bad_request');
    expect(configError(() => signNote('a\u0000b\n', [signer]))).toBe('bad_request');
    expect(configError(() => signNote('a\n', []))).toBe('bad_request');
  });

  it('reject every mangling of a verifier key', () => {
    // As Go's TestNewVerifier: any proper substring, and any byte changed by one.
    expect(configError(() => noteVerifier(GO_VERIFIER))).toBe('accepted');
    for (let i = 0; i <= GO_VERIFIER.length; i++) {
      for (let j = i + 1; j <= GO_VERIFIER.length; j++) {
        if (i === 0 && j === GO_VERIFIER.length) continue;
        expect(
          configError(() => noteVerifier(GO_VERIFIER.slice(i, j))),
          GO_VERIFIER.slice(i, j),
        ).toBe('config_invalid');
      }
    }
    for (let i = 0; i < GO_VERIFIER.length; i++) {
      const mangled =
        GO_VERIFIER.slice(0, i) +
        String.fromCharCode(GO_VERIFIER.charCodeAt(i) + 1) +
        GO_VERIFIER.slice(i + 1);
      expect(
        configError(() => noteVerifier(mangled)),
        mangled,
      ).toBe('config_invalid');
    }
  });

  it('reject key names with spaces or plus signs, and keys that are not Ed25519', () => {
    expect(configError(() => generateLogKey('has space'))).toBe('config_invalid');
    expect(configError(() => generateLogKey('a+b'))).toBe('config_invalid');
    expect(configError(() => generateLogKey(''))).toBe('config_invalid');
    expect(configError(() => noteSigner(generateLogKey('x').privateKeyPem))).toBe('config_invalid');
    expect(configError(() => noteSigner(GO_SIGNER, 'SomeoneElse'))).toBe('config_invalid');
    expect(
      configError(() => noteVerifier('-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----', 'x')),
    ).toBe('config_invalid');
  });
});
