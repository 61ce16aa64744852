/* server/internal.c — the worker's own paths under /_frostfork/: liveness,
 * readiness, and (with --metrics) Prometheus metrics, the status page and
 * its JSON, read from the master's shared slots. */
#include "server/conn.h"
#include "server/fault.h"
#include "util/fault.h"

#include <stdio.h>
#include <string.h>

static int path_is(const ff_http_request *h, const char *lit)
{
    size_t n = strlen(lit);
    return h->path_len == n && memcmp(h->path, lit, n) == 0;
}

/* Returns the status, or -1 when out of memory (out may then hold part of
 * the response). */
static int answer(ff_worker *w, const ff_req *r, ff_buf *out, int status, const char *ctype,
                  const char *body, size_t len)
{
    if (ff_response_begin(out, status, NULL, 0, &w->date) < 0 ||
        ff_buf_puts(out, "Cache-Control: no-store\r\n") < 0 ||
        ff_response_finish_head(out, ctype, len, r->keep_alive, r->http10) < 0 ||
        (!r->head_only && ff_buf_append(out, body, len) < 0))
        return -1;
    return status;
}

/* /_frostfork/...: liveness and readiness always; metrics, the status page
 * and its JSON when --metrics is on (on the main bind, or only on
 * --metrics-bind when that is given). Returns the status answered, 0 when
 * the path is not ours, or -1 when out of memory for the answer. */
int ff_serve_internal(ff_worker *w, const ff_conn *c, const ff_req *r, ff_buf *out)
{
    const ff_http_request *h = r->http;
    const ff_config *cfg = &w->srv->cfg;
    if (!c->internal && (h->path_len < 12 || memcmp(h->path, "/_frostfork/", 12) != 0))
        return 0;
    int metrics = cfg->metrics && (c->internal || cfg->metrics_fd < 0);
    if (path_is(h, "/_frostfork/health"))
        return answer(w, r, out, 200, "text/plain", "ok", 2);
    if (path_is(h, "/_frostfork/ready"))
        return w->draining ? answer(w, r, out, 503, "text/plain", "draining", 8)
                           : answer(w, r, out, 200, "text/plain", "ready", 5);
    if (metrics && path_is(h, "/_frostfork/metrics")) {
        ff_buf *b = &w->env.scratch;
        b->off = b->len = 0;
        if (ff_stats_prometheus(b, w->srv->shared, w->now) < 0)
            return -1;
        return answer(w, r, out, 200, "text/plain; version=0.0.4", b->data, b->len);
    }
    if (metrics && path_is(h, "/_frostfork/stats.json")) {
        ff_buf *b = &w->env.scratch;
        b->off = b->len = 0;
        if (ff_stats_json(b, w->srv->shared, w->now) < 0)
            return -1;
        return answer(w, r, out, 200, "application/json", b->data, b->len);
    }
    if (metrics && path_is(h, "/_frostfork/status"))
        return answer(w, r, out, 200, "text/html; charset=utf-8", ff_status_html,
                      strlen(ff_status_html));
#ifdef FF_FAULT_INJECT
    if (path_is(h, "/_frostfork/fault")) {
        /* the last request armed by its header: allocations, fired; then the
         * live block counts, Python's after a collection (cyclic garbage,
         * such as a traceback's, is not a leak) and the C core's, and whether
         * FROSTFORK_FAIL_ALLOC_AT has fired */
        PyGC_Collect();
        char text[128];
        int n = snprintf(text, sizeof text, "%ld %d %ld %ld %d\n", ff_fault.last_count,
                         ff_fault.last_fired, ff_fault.live, ff_fault.live_c,
                         !ff_fault.by_request && ff_fault.fired);
        return answer(w, r, out, 200, "text/plain", text, (size_t)n);
    }
#endif
    if (ff_response_error(out, 404, "Not Found", &w->date, r->keep_alive, r->http10,
                          r->head_only) < 0)
        return -1;
    return 404;
}

