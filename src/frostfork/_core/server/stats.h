/* server/stats.h — what master and workers share about each other, and the
 * renderings of it (JSON for `frostfork stats` and /_frostfork/stats.json,
 * Prometheus text for /_frostfork/metrics).
 *
 * Pure C. One MAP_SHARED page set, created by the master before the first
 * fork: each worker writes only its own slot (heartbeat, counters, latency
 * histogram); the master writes the memory figures it samples from
 * /proc/PID/smaps_rollup into every slot and the header. Readers tolerate
 * torn reads: every field is a naturally aligned 64-bit word. */
#ifndef FF_SERVER_STATS_H
#define FF_SERVER_STATS_H

#include <stdint.h>
#include <sys/types.h>

#include "util/buf.h"

#define FF_MAX_SLOTS 256
#define FF_LAT_BUCKETS 14 /* upper bounds in ff_lat_bounds_us, the last is +Inf */

extern const int64_t ff_lat_bounds_us[FF_LAT_BUCKETS];

/* Memory of one process in kB, from smaps_rollup. */
typedef struct {
    int64_t rss, pss, shared_clean, shared_dirty, private_clean, private_dirty;
} ff_mem;

/* One worker's slot: written by the worker (and memory by the master). */
typedef struct {
    int64_t heartbeat_ms;
    int64_t started_ms;
    uint64_t requests;
    int32_t pid;
    int32_t retiring;
    int32_t websockets;     /* open WebSocket sessions (after the 101) */
    int32_t pad_;
    uint64_t status[6];     /* 1xx 2xx 3xx 4xx 5xx other */
    uint64_t lat[FF_LAT_BUCKETS];
    uint64_t lat_sum_us;
    ff_mem mem;
    char current[72]; /* "GET /path" while a request is being handled, else "" */
} ff_slot;

typedef struct {
    int64_t master_pid;
    int64_t started_ms;
    int64_t sampled_ms;
    int64_t restarts;      /* workers replaced after dying or timing out */
    int64_t freeze_count;  /* gc.get_freeze_count() at fork */
    int64_t immortal_objects; /* made immortal before fork (--freeze immortal) */
    int64_t immortal_bytes;
    int64_t workers_target;
    int64_t ws_lost;       /* WebSockets open in workers that died (closed by the kernel) */
    ff_mem master_mem;
} ff_shared_header;

typedef struct {
    ff_shared_header hdr;
    ff_slot slots[FF_MAX_SLOTS];
} ff_shared;

/* Reads /proc/<pid>/smaps_rollup (pid 0: self). Returns 0 or -1. */
int ff_mem_read(pid_t pid, ff_mem *m);
static inline int64_t ff_mem_uss(const ff_mem *m) { return m->private_clean + m->private_dirty; }
static inline int64_t ff_mem_shared(const ff_mem *m) { return m->shared_clean + m->shared_dirty; }

/* Counts one answered request in a worker's slot. */
void ff_slot_count(ff_slot *s, int status, int64_t duration_us);

/* Appends the JSON snapshot: master, workers, totals. */
int ff_stats_json(ff_buf *out, const ff_shared *sh, int64_t now_ms);
/* Appends the Prometheus text exposition of the same figures. */
int ff_stats_prometheus(ff_buf *out, const ff_shared *sh, int64_t now_ms);
/* The self-contained status page (fetches stats.json next to it). */
extern const char ff_status_html[];

#endif
