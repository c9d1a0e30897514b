/**
 * The least an S3 restore must hold, as a reference for the chain bench's
 * peak RSS: this process loads the AWS SDK as walsync does, downloads the
 * generation's first snapshot through the same replica client and
 * drops every byte. Its peak is Node's HTTP stack and the SDK at full
 * speed — chiefly socket reads (one new buffer each) that wait for the
 * collector — with no decoding, no writes and no read-ahead.
 * Argument: the replica URL (the bench's has one generation). Credentials come from the environment.
 */
import { openReplica } from '../src/replica/url.js';

const client = openReplica(process.argv[2]!);
const [generationId] = await client.listGenerations();
const [snapshot] = await client.listSnapshots(generationId!);
let byteCount = 0;
for await (const chunk of client.readSnapshot(generationId!, snapshot!.index)) byteCount += chunk.byteLength;
process.stdout.write(`${byteCount}\n`);
