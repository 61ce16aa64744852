/* server/fault.h — driving the fault-injection counter (util/fault.h) from a
 * worker. Only in builds with -Dfault_inject=true. */
#ifndef FF_SERVER_FAULT_H
#define FF_SERVER_FAULT_H

#ifdef FF_FAULT_INJECT

#include "http/parse.h"

/* Routes Python's object and memory allocators through the counter too,
 * and arms it from FROSTFORK_FAIL_ALLOC_AT=N (the Nth allocation from now
 * fails, once). Called once in each worker before it serves. */
void ff_fault_worker_start(void);
/* X-Frostfork-Fail-Alloc: N fails the Nth allocation of this request ("N+":
 * that one and every later one of the C core; "0": count only). */
void ff_fault_request_begin(const ff_http_request *h);
/* The end of the requests of one read: their responses and cleanup are done. */
void ff_fault_request_end(void);

#endif
#endif
