/**
 * `--age-recipient age1…` (repeatable) to encrypt what a one-shot writes,
 * `--age-identity FILE` (repeatable, or $WALSYNC_AGE_IDENTITY) to read an
 * encrypted replica back: a restore, and the position a sync derives from
 * the replica's last segment. Keys never come from the command line itself:
 * process listings would show them.
 */
import type { Argv } from 'yargs';
import { WalsyncError } from '../errors.js';
import { secretFileWarning } from '../fsx/secret-file.js';
import type { Logger } from '../log.js';
import type { AgeKeys } from '../replica/age/keys.js';
import { isAgeRecipient, readIdentityFile } from '../replica/age/keys.js';

export interface AgeArgs {
  /** One value per flag: yargs makes an array of a repeated flag, a string of a single one. */
  'age-recipient'?: string | string[];
  'age-identity'?: string | string[];
}

export function withAgeOptions<T>(yargs: Argv<T>, { write }: { write: boolean }) {
  // Not `array: true`: that would take the positionals after the flag as more files.
  const withIdentity = yargs.option('age-identity', {
    type: 'string',
    describe: 'age identity file to decrypt the replica with (repeatable; default $WALSYNC_AGE_IDENTITY)',
  });
  if (!write) return withIdentity;
  return withIdentity.option('age-recipient', { type: 'string', describe: 'age recipient (age1…) to encrypt every object to (repeatable)' });
}

/** The keys the flags name; undefined when none are given (a plain replica). An identity file others can read is a warning. */
export function ageFromArgs(args: AgeArgs, log: Logger, env: NodeJS.ProcessEnv = process.env): AgeKeys | undefined {
  const recipients = listOf(args['age-recipient']);
  for (const recipient of recipients) {
    if (!isAgeRecipient(recipient)) throw new WalsyncError('USAGE', `--age-recipient: ${JSON.stringify(recipient)} is not an age recipient (age1…)`);
  }
  const files = args['age-identity'] === undefined ? listOf(env.WALSYNC_AGE_IDENTITY || undefined) : listOf(args['age-identity']);
  const identities = files.flatMap((file) => readIdentityFile(file));
  for (const file of files) {
    const warning = secretFileWarning(file);
    if (warning) log.warn('age identity file readable by others', { warning });
  }
  return recipients.length === 0 && identities.length === 0 ? undefined : { recipients, identities };
}

function listOf(value: string | string[] | undefined): string[] {
  return value === undefined ? [] : ([] as string[]).concat(value);
}
