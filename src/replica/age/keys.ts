/**
 * age keys as Litestream 0.3 takes them: recipients (`age1…`) to encrypt
 * to, identities (`AGE-SECRET-KEY-1…`) to decrypt with, given as the key
 * text itself (usually through `${VAR}`) or, walsync's addition, in key
 * files as age-keygen writes them (comments start with `#`).
 */
import fs from 'node:fs';
import { WalsyncError, messageOf } from '../../errors.js';

export interface AgeKeys {
  readonly recipients: readonly string[];
  readonly identities: readonly string[];
}

const RECIPIENT = /^age1[02-9ac-hj-np-z]{58}$/;
const IDENTITY = /^AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}$/;

/** What an encrypted object says when it is read without the keys to decrypt it. */
export function identityNeeded(objectName: string): WalsyncError {
  return new WalsyncError('AGE_KEY', `${objectName}: encrypted with age; reading it needs an identity (--age-identity FILE, or age.identities in the config)`);
}

export function isAgeRecipient(text: string): boolean {
  return RECIPIENT.test(text);
}

export function isAgeIdentity(text: string): boolean {
  return IDENTITY.test(text);
}

/** The identities in an age key file; a line that is neither a comment nor an identity is an error naming the file and line. */
export function readIdentityFile(filePath: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(filePath, 'utf8');
  } catch (error) {
    throw new WalsyncError('USAGE', `${filePath}: cannot read the age identity file: ${messageOf(error)}`, { cause: error });
  }
  const identities: string[] = [];
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    // Never echo the line: it may be a key.
    if (!isAgeIdentity(line)) throw new WalsyncError('USAGE', `${filePath}: line ${i + 1} is not an age identity (AGE-SECRET-KEY-1…)`);
    identities.push(line);
  }
  if (identities.length === 0) throw new WalsyncError('USAGE', `${filePath}: holds no age identity`);
  return identities;
}
