/* server/stats.c — memory sampling and the stats renderings (see stats.h). */
#include "server/stats.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const int64_t ff_lat_bounds_us[FF_LAT_BUCKETS] = {
    500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000,
    INT64_MAX};

/* smaps_rollup, not smaps: one pass over the VMAs in the kernel, one small
 * read here, so sampling every worker every few seconds stays cheap. */
int ff_mem_read(pid_t pid, ff_mem *m)
{
    char path[64], buf[2048];
    if (pid)
        snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
    else
        snprintf(path, sizeof path, "/proc/self/smaps_rollup");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    static const struct { const char *key; size_t off; } keys[] = {
        {"\nRss:", offsetof(ff_mem, rss)},
        {"\nPss:", offsetof(ff_mem, pss)},
        {"\nShared_Clean:", offsetof(ff_mem, shared_clean)},
        {"\nShared_Dirty:", offsetof(ff_mem, shared_dirty)},
        {"\nPrivate_Clean:", offsetof(ff_mem, private_clean)},
        {"\nPrivate_Dirty:", offsetof(ff_mem, private_dirty)},
    };
    memset(m, 0, sizeof *m);
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const char *at = strstr(buf, keys[i].key);
        if (at)
            *(int64_t *)((char *)m + keys[i].off) = strtoll(at + strlen(keys[i].key), NULL, 10);
    }
    return 0;
}

void ff_slot_count(ff_slot *s, int status, int64_t duration_us)
{
    int cls = status >= 100 && status < 600 ? status / 100 - 1 : 5;
    __atomic_fetch_add(&s->status[cls], 1, __ATOMIC_RELAXED);
    int b = 0;
    while (b < FF_LAT_BUCKETS - 1 && duration_us > ff_lat_bounds_us[b])
        b++;
    __atomic_fetch_add(&s->lat[b], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&s->lat_sum_us, (uint64_t)duration_us, __ATOMIC_RELAXED);
}

static int printf_buf(ff_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int printf_buf(ff_buf *out, const char *fmt, ...)
{
    /* Measured first, then formatted in place: no line is cut at a fixed size. */
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || ff_buf_reserve(out, (size_t)n + 1) < 0) {
        va_end(again);
        return -1;
    }
    vsnprintf(out->data + out->len, (size_t)n + 1, fmt, again);
    va_end(again);
    out->len += (size_t)n;
    return 0;
}

static int mem_json(ff_buf *out, const ff_mem *m)
{
    return printf_buf(out,
                      "\"rss_kb\":%lld,\"pss_kb\":%lld,\"uss_kb\":%lld,\"shared_kb\":%lld,"
                      "\"private_dirty_kb\":%lld",
                      (long long)m->rss, (long long)m->pss, (long long)ff_mem_uss(m),
                      (long long)ff_mem_shared(m), (long long)m->private_dirty);
}

int ff_stats_json(ff_buf *out, const ff_shared *sh, int64_t now_ms)
{
    const ff_shared_header *h = &sh->hdr;
    int64_t total_pss = h->master_mem.pss, total_rss = h->master_mem.rss;
    int rc = printf_buf(out, "{\"master\":{\"pid\":%lld,\"age_s\":%.1f,", (long long)h->master_pid,
                        (double)(now_ms - h->started_ms) / 1000.0);
    rc |= mem_json(out, &h->master_mem);
    rc |= printf_buf(out, "},\"restarts\":%lld,\"freeze_count\":%lld,\"immortal_objects\":%lld,"
                          "\"immortal_bytes\":%lld,\"workers_target\":%lld,"
                          "\"websockets_lost\":%lld,\"sampled_age_s\":%.1f,\"workers\":[",
                     (long long)h->restarts, (long long)h->freeze_count,
                     (long long)h->immortal_objects, (long long)h->immortal_bytes,
                     (long long)h->workers_target, (long long)h->ws_lost,
                     (double)(now_ms - h->sampled_ms) / 1000.0);
    int first = 1;
    for (int i = 0; i < FF_MAX_SLOTS; i++) {
        const ff_slot *s = &sh->slots[i];
        if (s->pid <= 0)
            continue;
        rc |= printf_buf(out, "%s{\"slot\":%d,\"pid\":%d,\"age_s\":%.1f,\"requests\":%llu,"
                              "\"websockets\":%d,",
                         first ? "" : ",", i, (int)s->pid,
                         (double)(now_ms - s->started_ms) / 1000.0,
                         (unsigned long long)s->requests,
                         (int)__atomic_load_n(&s->websockets, __ATOMIC_RELAXED));
        rc |= mem_json(out, &s->mem);
        rc |= ff_buf_puts(out, "}");
        total_pss += s->mem.pss;
        total_rss += s->mem.rss;
        first = 0;
    }
    rc |= printf_buf(out, "],\"total_pss_kb\":%lld,\"total_rss_kb\":%lld}", (long long)total_pss,
                     (long long)total_rss);
    return rc ? -1 : 0;
}

int ff_stats_prometheus(ff_buf *out, const ff_shared *sh, int64_t now_ms)
{
    static const char *const classes[6] = {"1xx", "2xx", "3xx", "4xx", "5xx", "other"};
    const ff_shared_header *h = &sh->hdr;
    uint64_t status[6] = {0}, lat[FF_LAT_BUCKETS] = {0}, lat_sum = 0, count = 0;
    int rc = 0;
    for (int i = 0; i < FF_MAX_SLOTS; i++) {
        const ff_slot *s = &sh->slots[i];
        if (s->pid <= 0)
            continue;
        for (int c = 0; c < 6; c++)
            status[c] += s->status[c];
        for (int b = 0; b < FF_LAT_BUCKETS; b++)
            lat[b] += s->lat[b];
        lat_sum += s->lat_sum_us;
    }
    rc |= ff_buf_puts(out, "# HELP frostfork_requests_total Requests answered, by status class.\n"
                           "# TYPE frostfork_requests_total counter\n");
    for (int c = 0; c < 6; c++)
        rc |= printf_buf(out, "frostfork_requests_total{status=\"%s\"} %llu\n", classes[c],
                         (unsigned long long)status[c]);
    rc |= ff_buf_puts(out, "# HELP frostfork_request_duration_seconds Time from a complete "
                           "request to its response.\n"
                           "# TYPE frostfork_request_duration_seconds histogram\n");
    for (int b = 0; b < FF_LAT_BUCKETS; b++) {
        count += lat[b];
        if (b == FF_LAT_BUCKETS - 1)
            rc |= printf_buf(out, "frostfork_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
                             (unsigned long long)count);
        else
            rc |= printf_buf(out, "frostfork_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
                             (double)ff_lat_bounds_us[b] / 1e6, (unsigned long long)count);
    }
    rc |= printf_buf(out, "frostfork_request_duration_seconds_sum %.6f\n"
                          "frostfork_request_duration_seconds_count %llu\n",
                     (double)lat_sum / 1e6, (unsigned long long)count);
    static const struct { const char *name, *help; size_t off; int uss; } gauges[] = {
        {"frostfork_memory_pss_bytes", "Proportional set size.", offsetof(ff_mem, pss), 0},
        {"frostfork_memory_rss_bytes", "Resident set size.", offsetof(ff_mem, rss), 0},
        {"frostfork_memory_uss_bytes", "Private (unique) memory.", 0, 1},
        {"frostfork_memory_shared_bytes", "Memory shared with other processes.", 0, 2},
    };
    for (size_t g = 0; g < sizeof gauges / sizeof *gauges; g++) {
        rc |= printf_buf(out, "# HELP %s %s\n# TYPE %s gauge\n", gauges[g].name, gauges[g].help,
                         gauges[g].name);
        for (int i = -1; i < FF_MAX_SLOTS; i++) {
            const ff_mem *m = i < 0 ? &h->master_mem : &sh->slots[i].mem;
            if (i >= 0 && sh->slots[i].pid <= 0)
                continue;
            int64_t kb = gauges[g].uss == 1   ? ff_mem_uss(m)
                         : gauges[g].uss == 2 ? ff_mem_shared(m)
                                              : *(const int64_t *)((const char *)m + gauges[g].off);
            if (i < 0)
                rc |= printf_buf(out, "%s{process=\"master\",pid=\"%lld\"} %lld\n", gauges[g].name,
                                 (long long)h->master_pid, (long long)kb * 1024);
            else
                rc |= printf_buf(out, "%s{process=\"worker\",slot=\"%d\",pid=\"%d\"} %lld\n",
                                 gauges[g].name, i, (int)sh->slots[i].pid, (long long)kb * 1024);
        }
    }
    rc |= ff_buf_puts(out, "# HELP frostfork_websockets_open WebSocket sessions open, per worker.\n"
                           "# TYPE frostfork_websockets_open gauge\n");
    for (int i = 0; i < FF_MAX_SLOTS; i++)
        if (sh->slots[i].pid > 0)
            rc |= printf_buf(out, "frostfork_websockets_open{slot=\"%d\",pid=\"%d\"} %d\n", i,
                             (int)sh->slots[i].pid,
                             (int)__atomic_load_n(&sh->slots[i].websockets, __ATOMIC_RELAXED));
    rc |= printf_buf(out, "# HELP frostfork_websockets_lost_total WebSockets that were open in "
                          "workers that died (the kernel closed them).\n"
                          "# TYPE frostfork_websockets_lost_total counter\n"
                          "frostfork_websockets_lost_total %lld\n", (long long)h->ws_lost);
    rc |= printf_buf(out,
                     "# HELP frostfork_worker_restarts_total Workers replaced after dying or "
                     "timing out.\n# TYPE frostfork_worker_restarts_total counter\n"
                     "frostfork_worker_restarts_total %lld\n"
                     "# HELP frostfork_gc_freeze_count Objects frozen by gc.freeze() before fork.\n"
                     "# TYPE frostfork_gc_freeze_count gauge\nfrostfork_gc_freeze_count %lld\n"
                     "# HELP frostfork_immortal_objects Startup objects made immortal before "
                     "fork (--freeze immortal).\n"
                     "# TYPE frostfork_immortal_objects gauge\nfrostfork_immortal_objects %lld\n"
                     "# HELP frostfork_immortal_bytes Their size (sys.getsizeof sum).\n"
                     "# TYPE frostfork_immortal_bytes gauge\nfrostfork_immortal_bytes %lld\n"
                     "# HELP frostfork_uptime_seconds Seconds since the master started.\n"
                     "# TYPE frostfork_uptime_seconds gauge\nfrostfork_uptime_seconds %.1f\n",
                     (long long)h->restarts, (long long)h->freeze_count,
                     (long long)h->immortal_objects, (long long)h->immortal_bytes,
                     (double)(now_ms - h->started_ms) / 1000.0);
    return rc ? -1 : 0;
}

const char ff_status_html[] =
    "<!doctype html><html><head><meta charset=\"utf-8\"><title>frostfork status</title>\n"
    "<style>body{font:14px system-ui,sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse}td,th{padding:2px 10px;text-align:right}"
    ".chart{display:flex;flex-direction:column;gap:6px;margin:1em 0}"
    ".row{display:flex;align-items:center;gap:8px}.label{width:11em;text-align:right}"
    ".bar{display:flex;height:18px;background:#eee;width:600px}"
    ".shared{background:#4a90d9}.private{background:#e8743b}"
    ".legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px}</style>"
    "</head><body><h1>frostfork</h1><div id=\"summary\">loading&hellip;</div>"
    "<div class=\"legend\"><span class=\"shared\"></span>shared<span class=\"private\">"
    "</span>private (USS)</div><div class=\"chart\" id=\"chart\"></div>\n<script>\n"
    "function mb(kb){return (kb/1024).toFixed(1)+' MB'}\n"
    "async function draw(){\n"
    " const s=await (await fetch('stats.json',{cache:'no-store'})).json();\n"
    " const procs=[Object.assign({name:'master '+s.master.pid},s.master)]"
    ".concat(s.workers.map(w=>Object.assign({name:'worker '+w.pid},w)));\n"
    " const max=Math.max(...procs.map(p=>p.shared_kb+p.uss_kb),1);\n"
    " const chart=document.getElementById('chart');chart.textContent='';\n"
    " for(const p of procs){const row=document.createElement('div');row.className='row';\n"
    "  const l=document.createElement('div');l.className='label';l.textContent=p.name;\n"
    "  const bar=document.createElement('div');bar.className='bar';"
    "bar.dataset.pid=p.pid;bar.dataset.kind=p.name.split(' ')[0];bar.title=p.name+': shared '+mb(p.shared_kb)+', private '+mb(p.uss_kb);\n"
    "  for(const [k,c] of [['shared_kb','shared'],['uss_kb','private']]){"
    "const seg=document.createElement('div');seg.className=c;"
    "seg.style.width=(600*p[k]/max)+'px';bar.appendChild(seg)}\n"
    "  row.appendChild(l);row.appendChild(bar);chart.appendChild(row)}\n"
    " const saved=procs.reduce((a,p)=>a+p.rss_kb,0)-s.total_pss_kb;\n"
    " document.getElementById('summary').textContent=s.workers.length+' workers; total PSS '+"
    "mb(s.total_pss_kb)+'; memory saved versus independent processes '+mb(saved)+"
    "'; restarts '+s.restarts+'; frozen objects '+s.freeze_count;\n"
    " document.body.dataset.ready='1'}\n"
    "draw();setInterval(draw,2000);\n</script></body></html>\n";
