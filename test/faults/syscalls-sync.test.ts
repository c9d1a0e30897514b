/** Every file syscall of `sync --once` failing in turn (EIO; ENOSPC for the writes), first and next sync. */
import { syscallFaultSuite } from '../helpers/syscall-faults.js';
import { firstSync, nextSync } from '../helpers/fault-operations.js';

syscallFaultSuite(firstSync);
syscallFaultSuite(nextSync);
