/* util/fault.c — the fault-injection counter (see fault.h); compiled only
 * with -Dfault_inject=true. */
#include "util/fault.h"

ff_fault_state ff_fault;

/* Arming restarts the count, so `at` is relative to this moment: the start
 * of a request, or of the worker's serving. */
void ff_fault_arm(long at, int sticky)
{
    ff_fault.at = at;
    ff_fault.sticky = sticky;
    ff_fault.count = 0;
    ff_fault.fired = 0;
    ff_fault.armed = 1;
}

void ff_fault_disarm(void)
{
    ff_fault.last_count = ff_fault.count;
    ff_fault.last_fired = ff_fault.fired;
    ff_fault.armed = 0;
}
