/* server/upgrade.h — handing the listening socket to a new master (SIGUSR2)
 * and the pid file that follows whichever master serves.
 *
 * Pure C (no Python.h). The old master forks and execs the new one with the
 * listening sockets and the write end of a pipe left open across exec; the
 * new master imports and freezes the app, forks its workers and, once every
 * worker is in its event loop, writes "ready\n" on the pipe. Only then does
 * the old master drain. A new master that fails writes "error: why\n" (or
 * just exits); the old one keeps serving and logs why. */
#ifndef FF_SERVER_UPGRADE_H
#define FF_SERVER_UPGRADE_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

/* Names of the environment entries the new master reads (frostfork/cli.py). */
#define FF_UPGRADE_ENV_LISTEN "FROSTFORK_UPGRADE_LISTEN_FD"
#define FF_UPGRADE_ENV_METRICS "FROSTFORK_UPGRADE_METRICS_FD"
#define FF_UPGRADE_ENV_PIPE "FROSTFORK_UPGRADE_PIPE"
#define FF_UPGRADE_ENV_FROM "FROSTFORK_UPGRADE_FROM"

typedef struct {
    char **argv;       /* NULL-terminated command of the new master (owned), or NULL */
    char *cwd;         /* the directory it starts in (owned), or NULL */
    pid_t pid;         /* a new master that has not said ready yet, else 0 */
    int rfd;           /* read end of its pipe, or -1 */
    char msg[512];     /* what it wrote so far */
    size_t msg_len;
} ff_upgrade;

/* Forks and execs u->argv with listen_fd, metrics_fd (if >= 0) and the
 * pipe's write end inherited, `mask` as its signal mask and the environment
 * saying where they are. Returns the new master's pid, or -1 (errno set). */
pid_t ff_upgrade_start(ff_upgrade *u, int listen_fd, int metrics_fd, const sigset_t *mask);

/* Reads what the new master wrote. Returns 1 once it said "ready", -1 when
 * the pipe closed without that (u->msg holds any "error: ..." it wrote), 0
 * while it has said nothing final. The pipe is closed on 1 and -1. */
int ff_upgrade_read(ff_upgrade *u);

/* The reason a failed new master gave, without its "error: " prefix and
 * newline, or "" when it gave none. */
const char *ff_upgrade_reason(ff_upgrade *u);

/* Closes the pipe and frees argv and cwd. */
void ff_upgrade_free(ff_upgrade *u);

/* Tells systemd (a Type=notify unit) about this master: `state` is sent as
 * one datagram to $NOTIFY_SOCKET, as sd_notify(3) sends it. Without that
 * variable, nothing happens. */
void ff_sd_notify(const char *state);

/* Writes "<pid>\n" to path through a temporary file and rename, so a reader
 * never sees it half-written. Returns 0, or -1 with errno set. */
int ff_pidfile_write(const char *path, pid_t pid);

/* Removes path if it names pid: a master leaves the file a successor wrote. */
void ff_pidfile_remove(const char *path, pid_t pid);

#endif
