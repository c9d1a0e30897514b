/** The problems a config text is refused with, as the reader reports them (file /etc/walsync.yml). */
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/config.js';
import { ConfigError } from '../../src/errors.js';

export function problemsOf(text: string, env: NodeJS.ProcessEnv = {}): readonly string[] {
  try {
    parseConfig(text, '/etc/walsync.yml', env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
  assert.fail('expected the config to be refused');
}
