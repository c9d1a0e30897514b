/**
 * A command-line tool a test runs (age, to decrypt what walsync wrote), from
 * Debian's packages: installed by the test when missing, as CI runs as root.
 */
import { execFileSync } from 'node:child_process';

function onPath(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function ensureDebianTool(tool: string, pkg = tool): void {
  if (onPath(tool)) return;
  const install = () => execFileSync('apt-get', ['install', '-y', '-q', pkg], { stdio: 'ignore' });
  try {
    install();
  } catch {
    execFileSync('apt-get', ['update', '-q'], { stdio: 'ignore' });
    install();
  }
}
