/**
 * A fleet of databases, one per tenant, made by python3's sqlite3 (an SQLite
 * of its own, not walsync's): WAL mode, a table `t` with one row, spread over
 * directories `d00`, `d01`, … of a root.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const MAKE = `
import os, sqlite3, sys
for p in sys.argv[1:]:
    os.makedirs(os.path.dirname(p), exist_ok=True)
    c = sqlite3.connect(p)
    c.execute('pragma journal_mode=wal')
    c.execute('create table t (id integer primary key, v text)')
    c.execute('insert into t (v) values (?)', ('first of ' + os.path.basename(p),))
    c.commit()
    c.close()
`;

export function tenantPath(root: string, index: number, dirCount: number): string {
  return path.join(root, `d${String(index % dirCount).padStart(2, '0')}`, `db${String(index).padStart(5, '0')}.db`);
}

/** Makes databases 0 to count - 1 under root and returns their paths. */
export function makeTenants(root: string, count: number, dirCount: number): string[] {
  const paths = Array.from({ length: count }, (_, i) => tenantPath(root, i, dirCount));
  for (let i = 0; i < paths.length; i += 2000) makeDatabases(paths.slice(i, i + 2000));
  return paths;
}

export function makeDatabases(paths: readonly string[]): void {
  execFileSync('python3', ['-c', MAKE, ...paths], { stdio: ['ignore', 'ignore', 'inherit'] });
}
