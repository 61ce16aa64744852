/* server/master.c — the pre-fork master: freeze the heap, fork workers,
 * supervise them.
 *
 * After the fork the master runs no Python at all: it waits on a signalfd,
 * reaps children, reads worker heartbeats from a shared page and keeps the
 * worker count at its target. Supervision rules follow gunicorn's: respawn
 * what dies (backing off when it keeps dying), kill what stops beating,
 * TERM drains, INT/QUIT stop fast, HUP replaces every worker, TTIN/TTOU add
 * or remove one, USR1 reopens log files, USR2 starts a new master with new
 * code on the same socket and drains once it serves (server/upgrade.c). */
#include "server/worker.h"
#include "server/upgrade.h"
#include "dispatch/mw.h"
#include "loop/loop.h"
#include "life/finalize.h"
#include "life/immortal.h"
#include "life/sinks.h"
#include "life/spool.h"
#include "util/fd.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define TICK_MS 100
#define CRASH_WINDOW_MS 5000
#define BACKOFF_MAX_MS 10000
#define FAST_STOP_MS 2000

typedef struct {
    pid_t pid;
    int64_t spawned_ms;
    int retiring;          /* told to drain (HUP, TTOU) */
    int64_t kill_at;       /* SIGKILL if still alive then (0: none) */
} ff_child;

typedef struct {
    ff_server *srv;
    ff_child kids[FF_MAX_SLOTS];
    int target;
    int sigfd;
    int stats_fd;
    int stopping;          /* 1 graceful, 2 fast */
    int failed;            /* a worker could not start the app (FF_EXIT_LIFESPAN): exit 1 */
    int64_t stop_deadline;
    int crash_streak;
    int64_t next_spawn_ms;
    unsigned rng;
    const char *pid_path;  /* --pid, or NULL */
    int ready_fd;          /* as a new master: where to say "ready", or -1 */
    ff_upgrade up;         /* a new master this one started (SIGUSR2) */
    int handed_over;       /* a new master serves: this one drains and leaves it all */
    int announced;         /* told systemd (and an old master) that the workers serve */
    sigset_t old_mask;     /* the signal mask before the signalfd's */
    struct stat stats_file; /* the stats socket's file as this master bound it */
} ff_master;

static void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_line(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line - 1)
        n = sizeof line - 2;
    line[n++] = '\n';
    /* one write per line so lines from master and workers never interleave */
    ssize_t wr = write(STDERR_FILENO, line, (size_t)n);
    (void)wr;
}

static void upgrade_failed(ff_master *m, int status);
static void describe_exit(int status, char *buf, size_t len);

static int live_workers(const ff_master *m)
{
    int n = 0;
    for (int i = 0; i < FF_MAX_SLOTS; i++)
        if (m->kids[i].pid > 0 && !m->kids[i].retiring)
            n++;
    return n;
}

static int total_children(const ff_master *m)
{
    int n = 0;
    for (int i = 0; i < FF_MAX_SLOTS; i++)
        n += m->kids[i].pid > 0;
    return n;
}

static long quota(ff_master *m)
{
    long max = m->srv->cfg.max_requests;
    long jitter = m->srv->cfg.max_requests_jitter;
    if (max <= 0)
        return 0;
    if (jitter > 0)
        max += (long)(rand_r(&m->rng) % (unsigned)(jitter + 1));
    return max;
}

/* Forks one worker into a free slot. The child never returns: it serves
 * and leaves with _exit so interpreter teardown cannot touch (and un-share)
 * the frozen heap. */
static int spawn(ff_master *m)
{
    int slot = -1;
    for (int i = 0; i < FF_MAX_SLOTS; i++)
        if (m->kids[i].pid == 0) {
            slot = i;
            break;
        }
    if (slot < 0)
        return -1;
    ff_server *srv = m->srv;
    ff_slot *s = &srv->slots[slot];
    memset(s, 0, sizeof *s);
    s->started_ms = ff_now_ms();
    s->heartbeat_ms = s->started_ms - 1; /* its first beat says it is in its loop */
    long max_requests = quota(m);
    pid_t master = getpid();
    PyOS_BeforeFork();
    pid_t pid = fork();
    if (pid == 0) {
        PyOS_AfterFork_Child();
        close(m->sigfd);
        if (m->stats_fd >= 0)
            close(m->stats_fd);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != master)
            _exit(0);
        sigset_t unblock;
        sigemptyset(&unblock);
        sigaddset(&unblock, SIGCHLD);
        sigprocmask(SIG_UNBLOCK, &unblock, NULL);
        s->pid = getpid();
        ff_fin_forget_list(&srv->st->process_fins);
        if (srv->cfg.freeze == FF_FREEZE_EARLY) {
            PyObject *r = PyObject_CallMethod(srv->st->gc_module, "enable", NULL);
            if (!r)
                PyErr_Clear();
            Py_XDECREF(r);
        }
        int rc = ff_worker_main(srv, slot, max_requests);
        PyObject *r = PySys_GetObject("stdout");
        if (r)
            Py_XDECREF(PyObject_CallMethodNoArgs(r, srv->st->str_flush));
        r = PySys_GetObject("stderr");
        if (r)
            Py_XDECREF(PyObject_CallMethodNoArgs(r, srv->st->str_flush));
        PyErr_Clear();
        fflush(NULL);
        _exit(rc);
    }
    PyOS_AfterFork_Parent();
    if (pid < 0) {
        log_line("[frostfork] fork failed: %s", strerror(errno));
        return -1;
    }
    m->kids[slot] = (ff_child){.pid = pid, .spawned_ms = ff_now_ms()};
    return 0;
}

static void signal_all(ff_master *m, int sig)
{
    for (int i = 0; i < FF_MAX_SLOTS; i++)
        if (m->kids[i].pid > 0)
            kill(m->kids[i].pid, sig);
}

static void retire(ff_master *m, int i, int64_t now)
{
    if (m->kids[i].pid <= 0 || m->kids[i].retiring)
        return;
    m->kids[i].retiring = 1;
    m->kids[i].kill_at = now + m->srv->cfg.graceful_ms;
    kill(m->kids[i].pid, SIGTERM);
}

static void describe_exit(int status, char *buf, size_t len)
{
    if (WIFEXITED(status))
        snprintf(buf, len, "exit code %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, len, "signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(buf, len, "status %d", status);
}

/* Collects every exited child. A worker that leaves on its own, not asked
 * to and not cleanly, counts toward the crash streak when it dies young;
 * the streak sets how long the master waits before the next fork. */
static void reap(ff_master *m, int64_t now)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (pid == m->up.pid) {
            upgrade_failed(m, status);
            continue;
        }
        int i;
        for (i = 0; i < FF_MAX_SLOTS; i++)
            if (m->kids[i].pid == pid)
                break;
        if (i == FF_MAX_SLOTS)
            continue;
        ff_child k = m->kids[i];
        m->kids[i] = (ff_child){0};
        char dir[300];
        ff_spool_worker_dir(dir, sizeof dir, m->srv->spool, pid);
        ff_rmtree(dir); /* what a killed worker left behind, before its replacement starts */
        int self_retired = __atomic_load_n(&m->srv->slots[i].retiring, __ATOMIC_RELAXED);
        /* websockets still open in a worker that is gone were closed by the kernel */
        m->srv->shared->hdr.ws_lost += __atomic_exchange_n(&m->srv->slots[i].websockets, 0,
                                                           __ATOMIC_RELAXED);
        int clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (WIFEXITED(status) && WEXITSTATUS(status) == FF_EXIT_LIFESPAN && !m->stopping) {
            /* the app said it cannot start (its message is in the log): stop */
            log_line("[frostfork] worker %d: the app's startup failed; stopping", (int)pid);
            m->failed = 1;
            m->stopping = 1;
            m->stop_deadline = now + m->srv->cfg.graceful_ms;
            ff_fd_release(m->srv->cfg.listen_fd);
            ff_fd_release(m->srv->cfg.metrics_fd);
            signal_all(m, SIGTERM);
            continue;
        }
        if (m->stopping || k.retiring || (clean && self_retired))
            continue;
        m->srv->shared->hdr.restarts++;
        char why[96], during[100] = "";
        describe_exit(status, why, sizeof why);
        const char *current = m->srv->slots[i].current;
        if (current[0])
            snprintf(during, sizeof during, " while handling %.72s", current);
        log_line("[frostfork] worker %d died unexpectedly (%s)%s; respawning", (int)pid, why,
                 during);
        /* a crash loop is a worker that cannot even start: it dies on its own
         * (not SIGKILLed from outside), young, before serving anything */
        int own_death = !(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        uint64_t served = __atomic_load_n(&m->srv->slots[i].requests, __ATOMIC_RELAXED);
        if (own_death && served == 0 && now - k.spawned_ms < CRASH_WINDOW_MS) {
            m->crash_streak++;
            int64_t delay = 100LL << (m->crash_streak > 7 ? 7 : m->crash_streak - 1);
            if (delay > BACKOFF_MAX_MS)
                delay = BACKOFF_MAX_MS;
            m->next_spawn_ms = now + delay;
            if (m->crash_streak > 1)
                log_line("[frostfork] workers keep crashing; next spawn in %lld ms",
                         (long long)delay);
        } else {
            m->crash_streak = 0;
        }
    }
}

/* Kills workers whose heartbeat is older than --timeout (a handler stuck
 * in a loop never returns to the event loop, so it never beats) and
 * retiring workers that outlived their grace period. */
static void check_workers(ff_master *m, int64_t now)
{
    for (int i = 0; i < FF_MAX_SLOTS; i++) {
        ff_child *k = &m->kids[i];
        if (k->pid <= 0)
            continue;
        int64_t beat = __atomic_load_n(&m->srv->slots[i].heartbeat_ms, __ATOMIC_RELAXED);
        if (m->srv->cfg.timeout_ms > 0 && now - beat > m->srv->cfg.timeout_ms && !k->kill_at) {
            log_line("[frostfork] worker %d timed out (no heartbeat for %lld ms%s%.72s); killing",
                     (int)k->pid, (long long)(now - beat),
                     m->srv->slots[i].current[0] ? ", in " : "", m->srv->slots[i].current);
            kill(k->pid, SIGKILL);
            m->srv->shared->hdr.restarts++;
            k->kill_at = now + 1; /* log once; reap() clears the slot */
            k->retiring = 1;      /* its replacement starts now */
            m->crash_streak = 0;
        } else if (k->kill_at && now >= k->kill_at && k->retiring) {
            kill(k->pid, SIGKILL);
        }
    }
}

/* Samples every process's memory from smaps_rollup into the shared page,
 * and recycles (gracefully) a worker whose private memory passed
 * --max-worker-uss: USS, because RSS counts the shared frozen heap too. */
static void sample(ff_master *m, int64_t now)
{
    ff_shared *sh = m->srv->shared;
    ff_mem_read(0, &sh->hdr.master_mem);
    for (int i = 0; i < FF_MAX_SLOTS; i++) {
        ff_child *k = &m->kids[i];
        if (k->pid <= 0)
            continue;
        ff_mem mem;
        if (ff_mem_read(k->pid, &mem) < 0)
            continue;
        sh->slots[i].mem = mem;
        int64_t limit = m->srv->cfg.max_worker_uss_kb;
        if (limit > 0 && ff_mem_uss(&mem) > limit && !k->retiring && !m->stopping) {
            log_line("[frostfork] worker %d uses %lld MB private memory (limit %lld MB); "
                     "recycling it",
                     (int)k->pid, (long long)(ff_mem_uss(&mem) / 1024), (long long)(limit / 1024));
            retire(m, i, now);
        }
    }
    sh->hdr.sampled_ms = now;
}

/* `frostfork stats` connects to this unix socket and reads one JSON snapshot.
 * `file` records which file this master bound, so that it removes the path
 * at exit only while it is still its own: a successor (SIGUSR2, --reload)
 * binds its own socket at the same path. */
static int stats_listen(const char *path, struct stat *file)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof addr.sun_path)
        return -1;
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    unlink(path);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 16) < 0 ||
        stat(path, file) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void stats_unlink_own(const char *path, const struct stat *file)
{
    struct stat now;
    if (stat(path, &now) == 0 && now.st_ino == file->st_ino && now.st_dev == file->st_dev)
        unlink(path);
}

static void stats_answer(ff_master *m, int lfd)
{
    int fd;
    while ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
        ff_buf out = {0};
        sample(m, ff_now_ms());
        if (ff_stats_json(&out, m->srv->shared, ff_now_ms()) == 0) {
            struct timeval tv = {1, 0}; /* a reader that stalls cannot stall the master long */
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
            size_t off = 0;
            while (off < out.len) {
                ssize_t n = send(fd, out.data + off, out.len - off, MSG_NOSIGNAL);
                if (n <= 0)
                    break;
                off += (size_t)n;
            }
        }
        ff_buf_free(&out);
        close(fd);
    }
}

static void scale(ff_master *m, int64_t now)
{
    /* published at once: stats, and workers choosing whether to requeue their listener */
    __atomic_store_n(&m->srv->shared->hdr.workers_target, m->target, __ATOMIC_RELAXED);
    if (m->stopping || now < m->next_spawn_ms)
        return;
    while (live_workers(m) < m->target)
        if (spawn(m) < 0)
            break;
    while (live_workers(m) > m->target) {
        /* retire the youngest: the older ones hold warmed-up caches */
        int pick = -1;
        for (int i = 0; i < FF_MAX_SLOTS; i++)
            if (m->kids[i].pid > 0 && !m->kids[i].retiring &&
                (pick < 0 || m->kids[i].spawned_ms > m->kids[pick].spawned_ms))
                pick = i;
        if (pick < 0)
            break;
        retire(m, pick, now);
    }
}

/* The SIGTERM drain: no worker will be started again, and the listening
 * sockets close for good once the draining workers let go too (worker.c),
 * unless a new master holds them. */
static void drain(ff_master *m, int64_t now)
{
    m->stopping = 1;
    m->stop_deadline = now + m->srv->cfg.graceful_ms;
    ff_fd_release(m->srv->cfg.listen_fd);
    ff_fd_release(m->srv->cfg.metrics_fd);
    signal_all(m, SIGTERM);
}

/* SIGUSR2: exec a new master on the same sockets. This one serves on until
 * the new one says its workers are ready (upgrade_poll). */
static void upgrade_start(ff_master *m)
{
    if (m->stopping)
        return;
    if (!m->up.argv) {
        log_line("[frostfork] SIGUSR2: this master cannot start a new one (it runs under "
                 "--reload, which starts new masters itself); ignored");
        return;
    }
    if (m->up.pid > 0) {
        log_line("[frostfork] SIGUSR2: new master %d is still starting; ignored", (int)m->up.pid);
        return;
    }
    pid_t pid = ff_upgrade_start(&m->up, m->srv->cfg.listen_fd, m->srv->cfg.metrics_fd,
                                 &m->old_mask);
    if (pid < 0) {
        log_line("[frostfork] SIGUSR2: cannot start a new master: %s; still serving",
                 strerror(errno));
        return;
    }
    log_line("[frostfork] SIGUSR2: started new master %d (%s); serving on until its workers "
             "are ready", (int)pid, m->up.argv[0]);
}

/* What the new master wrote: "ready" hands everything over and drains. */
static void upgrade_poll(ff_master *m, int64_t now)
{
    int r = ff_upgrade_read(&m->up);
    if (r == 1) {
        log_line("[frostfork] SIGUSR2: new master %d is serving; master %d drains its workers "
                 "and exits", (int)m->up.pid, (int)getpid());
        m->up.pid = 0;
        m->handed_over = 1;
        if (!m->stopping)
            drain(m, now);
    }
    /* on -1 the new master is leaving: reap() says why once it is gone */
}

/* The new master exited (reaped): unless it said ready first, the upgrade
 * failed, and this master, still serving, says why in one line. */
static void upgrade_failed(ff_master *m, int status)
{
    if (m->up.rfd >= 0 && ff_upgrade_read(&m->up) == 1) /* ready, then died: not ours now */
        return;
    char why[96];
    describe_exit(status, why, sizeof why);
    const char *reason = ff_upgrade_reason(&m->up);
    log_line("[frostfork] SIGUSR2: new master %d failed (%s%s%s); still serving with the old "
             "code", (int)m->up.pid, why, reason[0] ? ": " : "", reason);
    m->up.pid = 0;
}

/* True once every worker this master wants is in its event loop: each has
 * beaten its heartbeat since it was forked. */
static int workers_ready(const ff_master *m)
{
    if (live_workers(m) < m->target)
        return 0;
    for (int i = 0; i < FF_MAX_SLOTS; i++)
        if (m->kids[i].pid > 0 && !m->kids[i].retiring &&
            __atomic_load_n(&m->srv->slots[i].heartbeat_ms, __ATOMIC_RELAXED) <
                m->srv->slots[i].started_ms)
            return 0;
    return 1;
}

static void on_signal(ff_master *m, int sig, int64_t now)
{
    switch (sig) {
    case SIGTERM:
        if (!m->stopping) {
            log_line("[frostfork] SIGTERM: draining workers (up to %lld ms)",
                     (long long)m->srv->cfg.graceful_ms);
            drain(m, now);
        }
        break;
    case SIGINT:
    case SIGQUIT:
        if (m->stopping != 2) {
            m->stopping = 2;
            m->stop_deadline = now + FAST_STOP_MS;
            signal_all(m, SIGQUIT);
        }
        break;
    case SIGHUP: {
        if (m->stopping) /* the listening socket is released: nothing to start */
            break;
        log_line("[frostfork] SIGHUP: replacing %d workers", live_workers(m));
        int old[FF_MAX_SLOTS], n = 0;
        for (int i = 0; i < FF_MAX_SLOTS; i++)
            if (m->kids[i].pid > 0 && !m->kids[i].retiring)
                old[n++] = i;
        for (int i = 0; i < n; i++) /* mark first, so scale() forks a full new set */
            m->kids[old[i]].retiring = 1;
        m->next_spawn_ms = 0;
        scale(m, now);
        for (int i = 0; i < n; i++) {
            m->kids[old[i]].retiring = 0;
            retire(m, old[i], now);
        }
        break;
    }
    case SIGUSR1: /* logrotate: reopen the log files, here (for the workers
                   * forked from now on) and in every worker */
        ff_sink_reopen(m->srv->st, m->srv->cfg.access_sink);
        ff_sink_reopen(m->srv->st, m->srv->cfg.audit_sink);
        signal_all(m, SIGUSR1);
        break;
    case SIGUSR2:
        upgrade_start(m);
        break;
    case SIGTTIN:
        if (m->target < FF_MAX_SLOTS / 2)
            m->target++;
        else
            log_line("[frostfork] SIGTTIN: already at the most workers, %d", FF_MAX_SLOTS / 2);
        break;
    case SIGTTOU:
        if (m->target > 1)
            m->target--;
        break;
    default:
        break;
    }
}

/* The last thing the master does in Python before forking: collect, make the
 * startup heap immortal when asked (life/immortal.c), and freeze it. */
static void freeze_heap(ff_server *srv, ff_shared_header *hdr)
{
    if (srv->cfg.freeze == FF_FREEZE_OFF)
        return;
    if (srv->cfg.freeze == FF_FREEZE_COLLECT)
        PyGC_Collect();
    if (srv->cfg.freeze == FF_FREEZE_IMMORTAL) {
        ff_immortal_stats im;
        if (ff_immortalize_heap(srv->st->gc_module, &im) < 0) {
            PyErr_Print(); /* the heap stays mortal, which is still correct */
            log_line("[frostfork] making the startup heap immortal failed; it is only frozen");
        }
        hdr->immortal_objects = im.objects;
        hdr->immortal_bytes = im.bytes;
        log_line("[frostfork] made %lld objects (%.1f MB) of the startup heap immortal",
                 (long long)im.objects, (double)im.bytes / (1024.0 * 1024.0));
    }
    PyObject *r = PyObject_CallMethod(srv->st->gc_module, "freeze", NULL);
    if (!r)
        PyErr_Clear();
    Py_XDECREF(r);
}

/* Every worker serves: tell systemd which process is the master now (it
 * changes with each SIGUSR2 upgrade; NotifyAccess=all lets this one say so)
 * and, as a new master, take the pid file and the stats socket over and tell
 * the old master to drain. */
static void announce_ready(ff_master *m)
{
    char state[48];
    snprintf(state, sizeof state, "MAINPID=%d\nREADY=1", (int)getpid());
    m->announced = 1;
    ff_sd_notify(state);
    if (m->ready_fd < 0)
        return;
    if (m->pid_path && ff_pidfile_write(m->pid_path, getpid()) < 0)
        log_line("[frostfork] cannot write pid file %s: %s", m->pid_path, strerror(errno));
    if (m->srv->cfg.stats_path && m->stats_fd < 0) {
        m->stats_fd = stats_listen(m->srv->cfg.stats_path, &m->stats_file);
        if (m->stats_fd < 0)
            log_line("[frostfork] cannot listen on stats socket %s: %s", m->srv->cfg.stats_path,
                     strerror(errno));
    }
    ssize_t w = write(m->ready_fd, "ready\n", 6);
    close(m->ready_fd);
    m->ready_fd = -1;
    if (w == 6)
        log_line("[frostfork] master %d: workers ready; the old master drains", (int)getpid());
    else
        log_line("[frostfork] master %d: workers ready, but the old master is not listening "
                 "(%s)", (int)getpid(), w < 0 ? strerror(errno) : "short write");
}

/* Runs the master until it is told to stop; returns the process exit code,
 * or 1 after handing the sockets to a new master. `m` comes with pid_path,
 * ready_fd and the upgrade command set. */
static int master_run(ff_server *srv, ff_master *mp)
{
    ff_master m = *mp;
    m.srv = srv;
    m.target = srv->cfg.workers;
    m.rng = (unsigned)(getpid() ^ ff_now_ms());

    sigset_t set, old;
    sigemptyset(&set);
    int sigs[] = {SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGTTIN, SIGTTOU, SIGUSR1, SIGUSR2};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
        sigaddset(&set, sigs[i]);
    sigprocmask(SIG_BLOCK, &set, &old);
    m.old_mask = old;
    m.sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (m.sigfd < 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    /* a fresh master names itself at once; a new one only once it serves */
    if (m.pid_path && m.ready_fd < 0 && ff_pidfile_write(m.pid_path, getpid()) < 0) {
        PyErr_Format(PyExc_OSError, "cannot write pid file %s: %s", m.pid_path, strerror(errno));
        close(m.sigfd);
        sigprocmask(SIG_SETMASK, &old, NULL);
        return -1;
    }
    if (srv->cfg.spool_root && srv->cfg.spool_root[0]) {
        snprintf(srv->spool, sizeof srv->spool, "%s/frostfork-%d", srv->cfg.spool_root,
                 (int)getpid());
        mkdir(srv->cfg.spool_root, 0700); /* may exist; a failure shows just below */
        if (mkdir(srv->spool, 0700) < 0 && errno != EEXIST) {
            log_line("[frostfork] cannot create spool directory %s: %s; large bodies stay in "
                     "memory", srv->spool, strerror(errno));
            srv->spool[0] = '\0';
        }
    }
    ff_shared_header *hdr = &srv->shared->hdr;
    freeze_heap(srv, hdr);
    hdr->master_pid = getpid();
    hdr->started_ms = ff_now_ms();
    PyObject *frozen = PyObject_CallMethod(srv->st->gc_module, "get_freeze_count", NULL);
    hdr->freeze_count = frozen ? PyLong_AsLongLong(frozen) : 0;
    Py_XDECREF(frozen);
    PyErr_Clear();
    /* a new master takes the stats socket over from the old one once it serves */
    m.stats_fd = srv->cfg.stats_path && m.ready_fd < 0
                     ? stats_listen(srv->cfg.stats_path, &m.stats_file)
                     : -1;
    if (srv->cfg.stats_path && m.ready_fd < 0 && m.stats_fd < 0)
        log_line("[frostfork] cannot listen on stats socket %s: %s", srv->cfg.stats_path,
                 strerror(errno));
    scale(&m, ff_now_ms());
    int64_t next_sample = 0;

    for (;;) {
        int64_t now = ff_now_ms();
        reap(&m, now);
        if (m.stopping) {
            if (total_children(&m) == 0)
                break;
            if (now >= m.stop_deadline) {
                signal_all(&m, SIGKILL);
                m.stop_deadline = now + 1000;
            }
        } else {
            check_workers(&m, now);
            scale(&m, now);
            if (now >= next_sample) {
                sample(&m, now);
                next_sample = now + srv->cfg.stats_interval_ms;
            }
            if (!m.announced && workers_ready(&m))
                announce_ready(&m);
        }
        struct pollfd pfd[3] = {{.fd = m.sigfd, .events = POLLIN},
                                {.fd = m.stats_fd, .events = POLLIN},
                                {.fd = m.up.rfd, .events = POLLIN}};
        int ready;
        Py_BEGIN_ALLOW_THREADS
        ready = poll(pfd, 3, TICK_MS); /* poll skips the negative fds */
        Py_END_ALLOW_THREADS
        struct signalfd_siginfo si;
        while (ready > 0 && read(m.sigfd, &si, sizeof si) == (ssize_t)sizeof si)
            on_signal(&m, (int)si.ssi_signo, ff_now_ms());
        if (ready > 0 && m.stats_fd >= 0 && (pfd[1].revents & POLLIN))
            stats_answer(&m, m.stats_fd);
        if (ready > 0 && m.up.rfd >= 0 && pfd[2].revents)
            upgrade_poll(&m, ff_now_ms());
    }
    close(m.sigfd);
    if (m.stats_fd >= 0) {
        close(m.stats_fd);
        stats_unlink_own(srv->cfg.stats_path, &m.stats_file);
    }
    if (m.ready_fd >= 0) /* stopped before its workers were ready */
        close(m.ready_fd);
    if (m.pid_path)
        ff_pidfile_remove(m.pid_path, getpid());
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (srv->spool[0])
        ff_rmtree(srv->spool);
    log_line("[frostfork] master %d: all workers stopped%s", (int)getpid(),
             m.handed_over ? "; the new master serves" : "");
    mp->up = m.up; /* the caller frees it */
    return m.failed ? 2 : m.handed_over; /* 2: an app could not start (FF_EXIT_LIFESPAN) */
}

/* Copies upgrade_argv (a tuple of str) and the start directory into u, so the
 * master can exec them on SIGUSR2 without touching Python. */
static int upgrade_args(ff_upgrade *u, PyObject *argv, const char *cwd)
{
    if (!PyTuple_Check(argv) || PyTuple_GET_SIZE(argv) < 1) {
        PyErr_SetString(PyExc_TypeError, "upgrade_argv must be a non-empty tuple of str");
        return -1;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(argv);
    u->argv = calloc((size_t)n + 1, sizeof *u->argv);
    u->cwd = cwd ? strdup(cwd) : NULL;
    if (!u->argv || (cwd && !u->cwd)) {
        ff_upgrade_free(u);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        const char *arg = PyUnicode_Check(PyTuple_GET_ITEM(argv, i))
                              ? PyUnicode_AsUTF8(PyTuple_GET_ITEM(argv, i))
                              : NULL;
        if (!arg && !PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "upgrade_argv must be a non-empty tuple of str");
        if (!arg || !(u->argv[i] = strdup(arg))) {
            ff_upgrade_free(u);
            return arg ? (PyErr_NoMemory(), -1) : -1;
        }
    }
    return 0;
}

/* serve(listen_fd, app, **options) — the whole server lifetime. `app` is the
 * route list from App._compile(), or a WSGI callable when wsgi=True. */
PyObject *ff_py_serve(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"listen_fd", "app", "wsgi", "workers", "timeout",
                             "graceful_timeout", "keepalive", "header_timeout", "body_timeout",
                             "max_requests", "max_requests_jitter", "max_connections", "freeze",
                             "max_body", "max_header_bytes", "max_headers", "max_request_line",
                             "server_name", "server_port", "metrics", "metrics_fd",
                             "stats_path", "stats_interval", "max_worker_uss", "spool_dir",
                             "spool_threshold", "access_log", "access_format", "audit", "mask",
                             "runtime", "pid_path", "upgrade_argv", "upgrade_cwd", "ready_fd",
                             "middleware", NULL};
    ff_server srv;
    memset(&srv, 0, sizeof srv);
    ff_config *c = &srv.cfg;
    PyObject *app;
    int wsgi = 0;
    double timeout = 30, graceful = 30, keepalive = 5, header_to = 10, body_to = 30;
    const char *freeze = "collect";
    const char *server_name = "127.0.0.1";
    unsigned long long max_body = 16ull << 20;
    Py_ssize_t max_header_bytes = 16384, max_headers = 100, max_request_line = 8190;
    double stats_interval = 2, max_uss_mb = 0;
    c->workers = 1;
    c->max_connections = 1000;
    c->metrics_fd = -1;
    unsigned long long spool_threshold = 2 << 20;
    PyObject *access = Py_None, *audit = Py_None, *mask = NULL, *runtime = Py_None;
    PyObject *middleware = Py_None;
    const char *access_format = "json";
    ff_master m;
    memset(&m, 0, sizeof m);
    m.ready_fd = -1;
    m.up.rfd = -1;
    PyObject *upgrade_argv = Py_None;
    const char *upgrade_cwd = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "iO|$pidddddllisKnnnsipizddzKOsOO!OzOziO:serve",
                                     kwlist,
                                     &c->listen_fd, &app, &wsgi, &c->workers, &timeout,
                                     &graceful, &keepalive, &header_to, &body_to,
                                     &c->max_requests, &c->max_requests_jitter,
                                     &c->max_connections, &freeze, &max_body, &max_header_bytes,
                                     &max_headers, &max_request_line, &server_name,
                                     &c->server_port, &c->metrics, &c->metrics_fd,
                                     &c->stats_path, &stats_interval, &max_uss_mb,
                                     &c->spool_root, &spool_threshold, &access, &access_format,
                                     &audit, &PyTuple_Type, &mask, &runtime, &m.pid_path,
                                     &upgrade_argv, &upgrade_cwd, &m.ready_fd, &middleware))
        return NULL;
    c->stats_interval_ms = (int64_t)(stats_interval * 1000);
    c->spool_threshold = spool_threshold;
    c->access_sink = access == Py_None ? NULL : access;
    c->audit_sink = audit == Py_None ? NULL : audit;
    c->access_json = strcmp(access_format, "common") != 0;
    c->mask_names = mask;
    c->max_worker_uss_kb = (int64_t)(max_uss_mb * 1024);
    if (c->stats_interval_ms < 100)
        c->stats_interval_ms = 100;
    if (c->spool_root && strlen(c->spool_root) > FF_SPOOL_ROOT_MAX) {
        PyErr_Format(PyExc_ValueError, "--spool-dir is %zu bytes long; at most %d are supported",
                     strlen(c->spool_root), FF_SPOOL_ROOT_MAX);
        return NULL;
    }
    if (c->workers < 1 || c->workers > FF_MAX_SLOTS / 2) {
        PyErr_Format(PyExc_ValueError, "workers must be between 1 and %d", FF_MAX_SLOTS / 2);
        return NULL;
    }
    if (strcmp(freeze, "collect") == 0)
        c->freeze = FF_FREEZE_COLLECT;
    else if (strcmp(freeze, "early") == 0)
        c->freeze = FF_FREEZE_EARLY;
    else if (strcmp(freeze, "off") == 0)
        c->freeze = FF_FREEZE_OFF;
    else if (strcmp(freeze, "immortal") == 0 && FF_HAVE_IMMORTAL)
        c->freeze = FF_FREEZE_IMMORTAL;
    else if (strcmp(freeze, "immortal") == 0) {
        PyErr_SetString(PyExc_ValueError, "freeze='immortal' needs CPython 3.12 or newer "
                                          "(PEP 683 immortal objects)");
        return NULL;
    } else {
        PyErr_Format(PyExc_ValueError, "freeze must be collect, immortal, early or off, not %s",
                     freeze);
        return NULL;
    }
    if (max_headers < 1 || max_header_bytes < 64 || max_request_line < 16 ||
        c->max_connections < 1) {
        PyErr_SetString(PyExc_ValueError, "limits must be positive");
        return NULL;
    }
    c->wsgi = wsgi;
    c->timeout_ms = (int64_t)(timeout * 1000);
    c->graceful_ms = (int64_t)(graceful * 1000);
    c->keepalive_ms = (int64_t)(keepalive * 1000);
    c->header_timeout_ms = (int64_t)(header_to * 1000);
    c->body_timeout_ms = (int64_t)(body_to * 1000);
    c->limits.max_body = max_body;
    c->limits.max_header_bytes = (size_t)max_header_bytes;
    c->limits.max_headers = (size_t)max_headers;
    c->limits.max_request_line = (size_t)max_request_line;
    c->limits.max_chunk_ext = FF_HTTP_MAX_CHUNK_EXT;
    c->server_name = server_name;
    srv.st = ff_get_state(module);
    srv.mw = ff_mw_new(middleware);
    if (!srv.mw && PyErr_Occurred())
        return NULL;

    if (wsgi) {
        if (!PyCallable_Check(app)) {
            PyErr_SetString(PyExc_TypeError, "a WSGI application must be callable");
            ff_mw_free(srv.mw);
            return NULL;
        }
        srv.wsgi_app = app;
    } else {
        char err[256];
        if (ff_app_build(&srv.app, app, srv.st->Plan_type, err, sizeof err) < 0) {
            ff_app_free(&srv.app);
            ff_mw_free(srv.mw);
            PyErr_SetString(PyExc_ValueError, err);
            return NULL;
        }
        if (ff_app_runtime(&srv.app, runtime) < 0) {
            ff_app_free(&srv.app);
            return NULL;
        }
    }
    if (upgrade_argv != Py_None && upgrade_args(&m.up, upgrade_argv, upgrade_cwd) < 0) {
        ff_app_free(&srv.app);
        return NULL;
    }
    srv.shared = mmap(NULL, sizeof(ff_shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                      -1, 0);
    if (srv.shared == MAP_FAILED) {
        ff_app_free(&srv.app);
        ff_upgrade_free(&m.up);
        ff_mw_free(srv.mw);
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    srv.slots = srv.shared->slots;
    int rc = master_run(&srv, &m);
    ff_fin_run_list(&srv.st->process_fins); /* the master's own, at its exit */
    munmap(srv.shared, sizeof(ff_shared));
    ff_app_free(&srv.app);
    ff_upgrade_free(&m.up);
    ff_mw_free(srv.mw);
    if (rc < 0)
        return NULL;
    if (rc == 1) /* handed over: the caller leaves the sockets' files to the new master */
        Py_RETURN_NONE;
    return PyLong_FromLong(rc == 2 ? 1 : 0);
}
