/** sftp:// URLs and host key pins, as users write them. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { formatHostKey, hostKeyAlgorithms, hostKeyFingerprint, isPinned, parseHostKeys } from '../../../src/replica/sftp/host-key.js';
import { formatSftpUrl, parseSftpUrl, resolveSftpSettings } from '../../../src/replica/sftp/settings.js';
import { tempDir } from '../../helpers/tmp.js';

function keyPair(dir: string, type: string, name = `key_${type}`): { blob: Buffer; line: string; fingerprint: string } {
  const file = path.join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', 'host', '-f', file]);
  const line = fs.readFileSync(`${file}.pub`, 'utf8').trim();
  const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`]).toString().split(' ')[1]!;
  return { blob: Buffer.from(line.split(' ')[1]!, 'base64'), line, fingerprint };
}

describe('SFTP replica settings', () => {
  it('parses sftp:// URLs: port, home-relative paths, IPv6 hosts, key and host key parameters', () => {
    assert.deepEqual(parseSftpUrl('sftp://backup@nas.local:2222/srv/walsync/?key-path=/k&host-key-path=/h', { passwordAllowed: false }), {
      host: 'nas.local',
      port: 2222,
      user: 'backup',
      path: '/srv/walsync',
      password: undefined,
      keyPath: '/k',
      hostKey: undefined,
      hostKeyPath: '/h',
    });
    assert.equal(parseSftpUrl('sftp://u@h/~/backups', { passwordAllowed: false }).path, 'backups');
    assert.equal(parseSftpUrl('sftp://u@[fd00::1]:22/x', { passwordAllowed: false }).host, 'fd00::1');
    assert.equal(formatSftpUrl({ user: 'u', host: 'fd00::1', port: 22, path: 'backups' }), 'sftp://u@[fd00::1]/~/backups');
    assert.equal(formatSftpUrl({ user: 'u', host: 'h', port: 2222, path: '/x' }), 'sftp://u@h:2222/x');
  });

  it('refuses a password in a URL from the command line, without echoing it, and says where a password goes', () => {
    assert.throws(() => parseSftpUrl('sftp://u:hunter2@h/x', { passwordAllowed: false }), (error: Error) => {
      assert.ok(!error.message.includes('hunter2'), error.message);
      assert.match(error.message, /WALSYNC_SFTP_PASSWORD/);
      return true;
    });
    assert.equal(parseSftpUrl('sftp://u:hunter2@h/x', { passwordAllowed: true }).password, 'hunter2');
    assert.throws(() => parseSftpUrl('sftp://h/x', { passwordAllowed: false }), /no user/);
    assert.throws(() => parseSftpUrl('sftp://u@h/x?port=2', { passwordAllowed: false }), /unknown parameter "port"/);
  });

  it('takes the password from $WALSYNC_SFTP_PASSWORD unless a key is given, and reads pins from host-key-path', (t) => {
    const dir = tempDir(t);
    const { line, fingerprint } = keyPair(dir, 'ed25519');
    fs.writeFileSync(path.join(dir, 'known_hosts'), `# pinned\nnas.local ${line}\n`);
    const settings = resolveSftpSettings({ host: 'h', user: 'u', path: '', hostKeyPath: path.join(dir, 'known_hosts') }, { WALSYNC_SFTP_PASSWORD: 'pw' });
    assert.equal(settings.port, 22);
    assert.equal(settings.password, 'pw');
    assert.deepEqual(settings.hostKeys, [{ type: 'ssh-ed25519', fingerprint }]);
    assert.equal(resolveSftpSettings({ host: 'h', user: 'u', path: '', keyPath: '/k' }, { WALSYNC_SFTP_PASSWORD: 'pw' }).password, undefined);
    fs.writeFileSync(path.join(dir, 'empty'), '# nothing\n');
    assert.throws(() => resolveSftpSettings({ host: 'h', user: 'u', path: '', hostKeyPath: path.join(dir, 'empty') }), /empty: holds no host key/);
    assert.throws(() => resolveSftpSettings({ host: 'h', user: 'u', path: '', hostKeyPath: path.join(dir, 'missing') }), /missing: cannot read the host key file/);
  });

  it('pins by public key line, known_hosts line or SHA256 fingerprint, as ssh-keygen -l prints it', (t) => {
    const dir = tempDir(t);
    const ed25519 = keyPair(dir, 'ed25519');
    const ecdsa = keyPair(dir, 'ecdsa');
    const rsa = keyPair(dir, 'rsa');
    assert.equal(hostKeyFingerprint(ed25519.blob), ed25519.fingerprint);
    assert.equal(formatHostKey(ed25519.blob), ed25519.line.split(' ').slice(0, 2).join(' '));
    const { pins, problems } = parseHostKeys(`${ed25519.line}\n|1|abc=|def= ${ecdsa.line.split(' ').slice(0, 2).join(' ')}\n${rsa.fingerprint}\n`);
    assert.deepEqual(problems, []);
    assert.ok(isPinned(ed25519.blob, pins) && isPinned(ecdsa.blob, pins) && isPinned(rsa.blob, pins));
    assert.equal(isPinned(keyPair(dir, 'ed25519', 'another').blob, pins), false);
    // A bare fingerprint could be of any type: no preference then.
    assert.equal(hostKeyAlgorithms(pins), undefined);
    assert.deepEqual(hostKeyAlgorithms(parseHostKeys(`${rsa.line}\n${ed25519.line}`).pins), ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa', 'ssh-ed25519']);
    assert.deepEqual(parseHostKeys('nas.local ssh-ed25519 AAAA\n').problems, ['line 1 is not an SSH public key or SHA256 fingerprint']);
  });

  it('takes a host-key fingerprint pasted into the URL as printed, + and all', () => {
    const fingerprint = `SHA256:${'a+'.repeat(21)}b`;
    const settings = parseSftpUrl(`sftp://u@h/p?key-path=/k&host-key=${fingerprint}`, { passwordAllowed: false });
    assert.equal(settings.hostKey, fingerprint);
    assert.equal(parseSftpUrl(`sftp://u@h/p?key-path=/k&host-key=${encodeURIComponent(fingerprint)}`, { passwordAllowed: false }).hostKey, fingerprint);
  });
});
