/**
 * `npm run test:faults` injects syscall errors with strace and mounts small
 * filesystems that fill up: it needs both, and root for the mounts. Without
 * them it says so in one line and exits 2 before any test starts.
 */
import { execFileSync } from 'node:child_process';

function missing(): string | undefined {
  if (process.getuid?.() !== 0) return 'must run as root (the full-disk tests mount small filesystems)';
  for (const tool of ['strace', 'mount', 'umount']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `needs ${tool} on PATH (Debian: apt-get install strace)`;
    }
  }
  return undefined;
}

const problem = missing();
if (problem) {
  process.stderr.write(`walsync faults: ${problem}\n`);
  process.exit(2);
}
