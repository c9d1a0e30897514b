/**
 * A real OpenSSH sshd on 127.0.0.1 for the SFTP replica's tests, with its
 * own host keys, a client key in its authorized_keys, and a user of its own
 * that also logs in with a password. The user exists only for this sshd:
 * it runs in a mount namespace of its own (unshare, as root) in which copies
 * of /etc/passwd, /etc/group and /etc/shadow that add the user are
 * bind-mounted over the real ones, so the machine's accounts are never
 * touched. openssh-server comes from Debian's packages when missing.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureDebianTool } from './debian-tool.js';
import { freePort } from './daemon.js';

export const SFTP_TEST_USER = 'walsync-sftp';
const SFTP_TEST_UID = 64123;
const SSHD = '/usr/sbin/sshd';

export interface SshServer {
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** The user's home on this machine: what the server serves, readable by the test directly. */
  readonly home: string;
  readonly clientKeyPath: string;
  /** The server's ed25519 public key file (`ssh-ed25519 AAAA… comment`). */
  readonly hostKeyPath: string;
  readonly hostKeyLine: string;
  /** Its other host key (ECDSA), so a pin must pick the right one of the keys the server offers. */
  readonly otherHostKeyLine: string;
  /** An sftp:// URL of `dir` under the home that logs in with the client key and pins the host key. */
  url(dir: string): string;
  /** Logins the server accepted since it first started: one per SSH connection. */
  logins(): number;
  /** Kills the listener and every session it forked: the server gone, connections cut. */
  stop(): Promise<void>;
  start(): Promise<void>;
}

export async function startSshServer(onCleanup: (stop: () => Promise<void>) => void): Promise<SshServer> {
  if (!fs.existsSync(SSHD)) ensureDebianTool('sshd', 'openssh-server');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'walsync-sshd-'));
  fs.chmodSync(dir, 0o755);
  const home = path.join(dir, 'home');
  fs.mkdirSync(home, { mode: 0o700 });
  fs.chownSync(home, SFTP_TEST_UID, SFTP_TEST_UID);
  const keygen = (file: string, type: string) => execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', 'walsync-test', '-f', file], { stdio: 'ignore' });
  const hostKey = path.join(dir, 'host_ed25519');
  const otherHostKey = path.join(dir, 'host_ecdsa');
  const clientKeyPath = path.join(dir, 'client_ed25519');
  keygen(hostKey, 'ed25519');
  keygen(otherHostKey, 'ecdsa');
  keygen(clientKeyPath, 'ed25519');
  fs.copyFileSync(`${clientKeyPath}.pub`, path.join(dir, 'authorized_keys'));
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  writeAccounts(dir, home, password);
  const port = await freePort();
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const configPath = path.join(dir, 'sshd_config');
  fs.writeFileSync(
    configPath,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `HostKey ${otherHostKey}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
      'PubkeyAuthentication yes',
      'PasswordAuthentication yes',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'PermitRootLogin no',
      'MaxStartups 100',
      'MaxSessions 100',
      'Subsystem sftp internal-sftp',
      'LogLevel INFO',
      '',
    ].join('\n'),
  );
  const mounts = ['passwd', 'group', 'shadow'].map((name) => `mount --bind ${path.join(dir, name)} /etc/${name}`).join(' && ');
  let child: ChildProcess | undefined;
  let log = '';

  async function start(): Promise<void> {
    const started = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', `${mounts} && exec ${SSHD} -D -e -f ${configPath}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = started;
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      started.once('exit', (code) => reject(new Error(`sshd exited (code ${code}): ${stderr}`)));
      started.stderr!.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        log += chunk.toString();
        if (stderr.includes('Server listening on')) resolve();
      });
    });
  }

  async function stop(): Promise<void> {
    const stopping = child;
    child = undefined;
    if (!stopping?.pid || stopping.exitCode !== null || stopping.signalCode !== null) return;
    const exited = new Promise((resolve) => stopping.once('exit', resolve));
    for (const pid of [...descendantsOf(stopping.pid), stopping.pid]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone: a session that ended on its own.
      }
    }
    await exited;
  }

  await start();
  onCleanup(async () => {
    await stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const hostKeyLine = fs.readFileSync(`${hostKey}.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
  return {
    port,
    user: SFTP_TEST_USER,
    password,
    home,
    clientKeyPath,
    hostKeyPath: `${hostKey}.pub`,
    hostKeyLine,
    otherHostKeyLine: fs.readFileSync(`${otherHostKey}.pub`, 'utf8').split(' ').slice(0, 2).join(' '),
    logins: () => log.match(/Accepted (publickey|password) for /g)?.length ?? 0,
    url: (remote) =>
      `sftp://${SFTP_TEST_USER}@127.0.0.1:${port}${path.join(home, remote)}?key-path=${encodeURIComponent(clientKeyPath)}&host-key-path=${encodeURIComponent(`${hostKey}.pub`)}`,
    stop,
    start,
  };
}

/** The machine's accounts plus the test user, with `password` hashed as crypt(3) takes it. */
function writeAccounts(dir: string, home: string, password: string): void {
  const hash = execFileSync('openssl', ['passwd', '-6', '-stdin'], { input: password }).toString().trim();
  const uid = SFTP_TEST_UID;
  const append = (name: string, line: string, mode: number) => {
    const target = path.join(dir, name);
    fs.writeFileSync(target, `${fs.readFileSync(`/etc/${name}`, 'utf8').replace(/\n?$/, '\n')}${line}\n`, { mode });
  };
  append('passwd', `${SFTP_TEST_USER}:x:${uid}:${uid}::${home}:/bin/sh`, 0o644);
  append('group', `${SFTP_TEST_USER}:x:${uid}:`, 0o644);
  append('shadow', `${SFTP_TEST_USER}:${hash}:20000:0:99999:7:::`, 0o640);
}

function descendantsOf(root: number): number[] {
  const parents = new Map<number, number>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // The parent pid is the 4th field, after "(comm)" which may hold spaces.
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      parents.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // Exited while listed.
    }
  }
  const found: number[] = [];
  const walk = (pid: number) => {
    for (const [child, parent] of parents) {
      if (parent === pid) {
        found.push(child);
        walk(child);
      }
    }
  };
  walk(root);
  return found;
}
