/**
 * Pinning an SSH server's host key. Users paste what they have at hand: a
 * line of the server's `ssh_host_*_key.pub` or of `known_hosts` (the key
 * type and its base64 body), or the `SHA256:…` fingerprint `ssh-keygen -l`
 * prints. Pure: no I/O.
 */
import { createHash } from 'node:crypto';

export interface PinnedHostKey {
  /** Unset when the pin is a fingerprint only. */
  readonly type?: string;
  readonly fingerprint: string;
}

const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;
const KEY_TYPE = /^(ssh-|ecdsa-sha2-|sk-)[a-z0-9@.-]+$/;

/** The fingerprint `ssh-keygen -l` prints for a public key blob. */
export function hostKeyFingerprint(blob: Uint8Array): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type a public key blob names in its first field (an SSH string), or undefined when it is not one. */
export function hostKeyType(blob: Uint8Array): string | undefined {
  if (blob.byteLength < 4) return undefined;
  const length = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength).readUInt32BE(0);
  if (length === 0 || length > 64 || 4 + length > blob.byteLength) return undefined;
  const type = Buffer.from(blob.subarray(4, 4 + length)).toString('latin1');
  return KEY_TYPE.test(type) ? type : undefined;
}

/** The key as a `host-key:` value takes it, for the line that asks the user to pin it. */
export function formatHostKey(blob: Uint8Array): string {
  return `${hostKeyType(blob) ?? 'unknown'} ${Buffer.from(blob).toString('base64')}`;
}

/**
 * The pins in `text`, one per line; a line that holds no key or fingerprint
 * is a problem naming its number (never its text: it may be a private key
 * pasted by mistake).
 */
export function parseHostKeys(text: string): { pins: PinnedHostKey[]; problems: string[] } {
  const pins: PinnedHostKey[] = [];
  const problems: string[] = [];
  const lines = text.split('\n');
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    // `@revoked` and `@cert-authority` lines of known_hosts do not pin a host's own key.
    if (line === '' || line.startsWith('#') || line.startsWith('@')) continue;
    const pin = pinOfLine(line.split(/\s+/));
    if (pin) pins.push(pin);
    else problems.push(lines.length > 1 ? `line ${i + 1} is not an SSH public key or SHA256 fingerprint` : 'is not an SSH public key ("ssh-ed25519 AAAA…") or SHA256 fingerprint');
  }
  if (pins.length === 0 && problems.length === 0) problems.push('holds no host key');
  return { pins, problems };
}

function pinOfLine(fields: string[]): PinnedHostKey | undefined {
  for (const [i, field] of fields.entries()) {
    if (FINGERPRINT.test(field)) return { fingerprint: field };
    const body = fields[i + 1];
    if (!KEY_TYPE.test(field) || body === undefined || !/^[A-Za-z0-9+/]+={0,2}$/.test(body)) continue;
    const blob = Buffer.from(body, 'base64');
    if (hostKeyType(blob) === field) return { type: field, fingerprint: hostKeyFingerprint(blob) };
  }
  return undefined;
}

/** Whether the key the server offered is one of the pinned ones. */
export function isPinned(blob: Uint8Array, pins: readonly PinnedHostKey[]): boolean {
  const fingerprint = hostKeyFingerprint(blob);
  return pins.some((pin) => pin.fingerprint === fingerprint);
}

/**
 * The host key algorithms to ask for, so a server with several host keys
 * shows the pinned one; undefined (the library's default order) when a pin
 * is a bare fingerprint and could be of any type.
 */
export function hostKeyAlgorithms(pins: readonly PinnedHostKey[]): string[] | undefined {
  if (pins.some((pin) => pin.type === undefined)) return undefined;
  const algorithms = pins.flatMap((pin) => (pin.type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [pin.type!]));
  return [...new Set(algorithms)];
}
