/** Every file syscall of `snapshot` and of a `retention` pass failing in turn. */
import { syscallFaultSuite } from '../helpers/syscall-faults.js';
import { retention, snapshot } from '../helpers/fault-operations.js';

syscallFaultSuite(snapshot);
syscallFaultSuite(retention);
