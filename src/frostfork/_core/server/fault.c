/* server/fault.c — see fault.h. Compiled only with -Dfault_inject=true. */
#include "server/fault.h"
#include "util/fault.h"

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <strings.h>

/* The allocators the hooks forward to; set once per worker, before any
 * hooked call. Fault-injection builds only. */
static PyMemAllocatorEx orig_mem, orig_obj;

static void *hook_malloc(void *ctx, size_t n)
{
    PyMemAllocatorEx *a = ctx;
    void *p = ff_fault_hit_from(0) ? NULL : a->malloc(a->ctx, n);
    ff_fault.live += p != NULL;
    return p;
}

static void *hook_calloc(void *ctx, size_t n, size_t size)
{
    PyMemAllocatorEx *a = ctx;
    void *p = ff_fault_hit_from(0) ? NULL : a->calloc(a->ctx, n, size);
    ff_fault.live += p != NULL;
    return p;
}

static void *hook_realloc(void *ctx, void *old, size_t n)
{
    PyMemAllocatorEx *a = ctx;
    void *p = ff_fault_hit_from(0) ? NULL : a->realloc(a->ctx, old, n);
    ff_fault.live += p != NULL && old == NULL;
    return p;
}

static void hook_free(void *ctx, void *p)
{
    PyMemAllocatorEx *a = ctx;
    ff_fault.live -= p != NULL;
    a->free(a->ctx, p);
}

/* Hooks that wrap the current allocators, as PEP 445 allows at any time:
 * blocks allocated before are freed through the same underlying allocator.
 * The raw domain stays as it is: it may be called without the GIL. */
void ff_fault_worker_start(void)
{
    PyMem_GetAllocator(PYMEM_DOMAIN_MEM, &orig_mem);
    PyMem_GetAllocator(PYMEM_DOMAIN_OBJ, &orig_obj);
    PyMemAllocatorEx mem = {&orig_mem, hook_malloc, hook_calloc, hook_realloc, hook_free};
    PyMemAllocatorEx obj = {&orig_obj, hook_malloc, hook_calloc, hook_realloc, hook_free};
    PyMem_SetAllocator(PYMEM_DOMAIN_MEM, &mem);
    PyMem_SetAllocator(PYMEM_DOMAIN_OBJ, &obj);
    const char *at = getenv("FROSTFORK_FAIL_ALLOC_AT");
    if (at && *at) {
        char *end;
        long n = strtol(at, &end, 10);
        if (*end || n < 0) {
            fprintf(stderr, "[frostfork] FROSTFORK_FAIL_ALLOC_AT=%s is not a count; ignored\n",
                    at);
        } else {
            ff_fault_arm(n, 0);
            ff_fault.by_request = 0;
        }
    }
}

void ff_fault_request_begin(const ff_http_request *h)
{
    for (size_t i = 0; i < h->num_headers; i++) {
        const ff_http_header *f = &h->headers[i];
        if (f->name_len != 22 || strncasecmp(f->name, "x-frostfork-fail-alloc", 22) != 0)
            continue;
        long n = 0;
        size_t k = 0;
        while (k < f->value_len && f->value[k] >= '0' && f->value[k] <= '9' && n < 100000000)
            n = n * 10 + (f->value[k++] - '0');
        ff_fault_arm(n, k < f->value_len && f->value[k] == '+');
        ff_fault.by_request = 1;
        return;
    }
}

void ff_fault_request_end(void)
{
    if (ff_fault.armed && ff_fault.by_request) {
        ff_fault_disarm();
        ff_fault.by_request = 0;
    }
}
