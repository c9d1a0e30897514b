/** Every file syscall of `restore` failing in turn: a failed restore leaves nothing at OUT. */
import { syscallFaultSuite } from '../helpers/syscall-faults.js';
import { restore } from '../helpers/fault-operations.js';

syscallFaultSuite(restore);
