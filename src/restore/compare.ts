/**
 * Compares two databases the way a person would check a restore: the same
 * schema, and the same rows in every table, streamed side by side so memory
 * stays flat. Reports the first difference, naming the table and row.
 */
import { isDeepStrictEqual } from 'node:util';

export interface RowSource {
  rows(sql: string): IterableIterator<unknown[]>;
}

const SCHEMA_SQL = "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name";

export function firstDifference(expected: RowSource, actual: RowSource): string | undefined {
  const expectedSchema = [...expected.rows(SCHEMA_SQL)];
  const actualSchema = [...actual.rows(SCHEMA_SQL)];
  const schemaDiff = firstUnequal(expectedSchema[Symbol.iterator](), actualSchema[Symbol.iterator]());
  if (schemaDiff) {
    const row = (schemaDiff.expected ?? schemaDiff.actual) as string[];
    return `schema differs at ${row[0]} ${row[1]}`;
  }
  for (const [type, name, , createSql] of expectedSchema as string[][]) {
    if (type !== 'table') continue;
    const table = `"${name!.replaceAll('"', '""')}"`;
    // A WITHOUT ROWID table has no rowid; its plain scan is in primary-key order.
    const withRowid = !/without\s+rowid/i.test(createSql ?? '');
    const query = withRowid ? `SELECT rowid, * FROM ${table} ORDER BY rowid` : `SELECT * FROM ${table}`;
    const diff = firstUnequal(expected.rows(query), actual.rows(query));
    if (diff) return `table ${name} differs at row ${diff.position + 1}${diff.expected ? ` (${describeRow(diff.expected, withRowid)})` : ' (extra rows)'}`;
  }
  return undefined;
}

function describeRow(row: unknown, withRowid: boolean): string {
  const first = (row as unknown[])[0];
  return `${withRowid ? 'rowid' : 'first column'} ${typeof first === 'object' ? 'blob' : JSON.stringify(first)}`;
}

function firstUnequal(
  expected: Iterator<unknown>,
  actual: Iterator<unknown>,
): { position: number; expected?: unknown; actual?: unknown } | undefined {
  for (let position = 0; ; position++) {
    const a = expected.next();
    const b = actual.next();
    if (a.done && b.done) return undefined;
    if (a.done !== b.done || !isDeepStrictEqual(a.value, b.value)) {
      expected.return?.();
      actual.return?.();
      return { position, expected: a.done ? undefined : a.value, actual: b.done ? undefined : b.value };
    }
  }
}
