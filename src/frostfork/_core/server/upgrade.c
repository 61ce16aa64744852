/* server/upgrade.c — starting a new master on the same listening socket
 * (SIGUSR2), and the pid file. See upgrade.h for the protocol. */
#define _GNU_SOURCE /* pipe2 */
#include "server/upgrade.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

extern char **environ;

static int keep_open(int fd)
{
    int flags = fcntl(fd, F_GETFD);
    return flags < 0 ? -1 : fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
}

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The new master's environment: ours, less what described our own start
 * (an earlier upgrade's descriptors, systemd's LISTEN_* which name a pid
 * that is not the new master's), plus where its sockets and pipe are.
 * Built before fork so the child only calls what is async-signal-safe.
 * One allocation holds the pointer array and the added strings. */
static char **build_env(int listen_fd, int metrics_fd, int wfd)
{
    size_t n = 0;
    for (char **e = environ; *e; e++)
        n++;
    enum { EXTRA = 4, ENTRY = 48 };
    char **env = malloc((n + EXTRA + 1) * sizeof *env + EXTRA * ENTRY);
    if (!env)
        return NULL;
    char *text = (char *)(env + n + EXTRA + 1);
    size_t k = 0;
    for (char **e = environ; *e; e++)
        if (!starts_with(*e, "FROSTFORK_UPGRADE_") && !starts_with(*e, "LISTEN_FDS=") &&
            !starts_with(*e, "LISTEN_PID=") && !starts_with(*e, "LISTEN_FDNAMES="))
            env[k++] = *e;
    const char *names[EXTRA] = {FF_UPGRADE_ENV_LISTEN, FF_UPGRADE_ENV_METRICS,
                                FF_UPGRADE_ENV_PIPE, FF_UPGRADE_ENV_FROM};
    long values[EXTRA] = {listen_fd, metrics_fd, wfd, (long)getpid()};
    for (int i = 0; i < EXTRA; i++) {
        if (values[i] < 0)
            continue;
        snprintf(text, ENTRY, "%s=%ld", names[i], values[i]);
        env[k++] = text;
        text += ENTRY;
    }
    env[k] = NULL;
    return env;
}

/* What the child says when it cannot become the new master. */
static void child_fail(int wfd, const char *what)
{
    const char *parts[] = {"error: ", what, "\n"};
    for (size_t i = 0; i < 3; i++) {
        ssize_t w = write(wfd, parts[i], strlen(parts[i]));
        (void)w;
    }
    _exit(127);
}

pid_t ff_upgrade_start(ff_upgrade *u, int listen_fd, int metrics_fd, const sigset_t *mask)
{
    if (!u->argv || !u->argv[0]) {
        errno = EINVAL;
        return -1;
    }
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    char **env = build_env(listen_fd, metrics_fd, p[1]);
    if (!env) {
        close(p[0]);
        close(p[1]);
        errno = ENOMEM;
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        /* the new master must start as a fresh process: our blocked signals
         * (the signalfd's) would otherwise stay blocked across exec */
        sigprocmask(SIG_SETMASK, mask, NULL);
        if (keep_open(listen_fd) < 0 || (metrics_fd >= 0 && keep_open(metrics_fd) < 0) ||
            keep_open(p[1]) < 0)
            child_fail(p[1], "cannot pass the listening socket on");
        if (u->cwd && chdir(u->cwd) < 0)
            child_fail(p[1], "cannot change to the directory the master started in");
        execve(u->argv[0], u->argv, env);
        child_fail(p[1], "cannot execute the Python interpreter the master started with");
    }
    int saved = errno;
    free(env);
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        errno = saved;
        return -1;
    }
    fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
    u->pid = pid;
    u->rfd = p[0];
    u->msg_len = 0;
    u->msg[0] = '\0';
    return pid;
}

int ff_upgrade_read(ff_upgrade *u)
{
    if (u->rfd < 0)
        return -1;
    for (;;) {
        size_t room = sizeof u->msg - 1 - u->msg_len;
        char sink[256];
        ssize_t n = room ? read(u->rfd, u->msg + u->msg_len, room) : read(u->rfd, sink, sizeof sink);
        if (n > 0) {
            if (room) {
                u->msg_len += (size_t)n;
                u->msg[u->msg_len] = '\0';
            }
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return strstr(u->msg, "ready\n") == u->msg ? (close(u->rfd), u->rfd = -1, 1) : 0;
        break; /* EOF or error: the new master is gone or gave up its pipe */
    }
    int ready = strstr(u->msg, "ready\n") == u->msg;
    close(u->rfd);
    u->rfd = -1;
    return ready ? 1 : -1;
}

const char *ff_upgrade_reason(ff_upgrade *u)
{
    if (strncmp(u->msg, "error: ", 7) != 0)
        return "";
    char *nl = strchr(u->msg, '\n');
    if (nl)
        *nl = '\0';
    return u->msg + 7;
}

void ff_upgrade_free(ff_upgrade *u)
{
    if (u->rfd >= 0)
        close(u->rfd);
    u->rfd = -1;
    if (u->argv)
        for (char **a = u->argv; *a; a++)
            free(*a);
    free(u->argv);
    free(u->cwd);
    u->argv = NULL;
    u->cwd = NULL;
}

void ff_sd_notify(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || (path[0] != '/' && path[0] != '@'))
        return;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    size_t len = strlen(path);
    if (len >= sizeof addr.sun_path)
        return;
    memcpy(addr.sun_path, path, len);
    if (path[0] == '@') /* the abstract namespace */
        addr.sun_path[0] = '\0';
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    ssize_t n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&addr,
                       (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
    (void)n; /* systemd gone or not listening: nothing to do about it */
    close(fd);
}

int ff_pidfile_write(const char *path, pid_t pid)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)pid) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    char line[24];
    int len = snprintf(line, sizeof line, "%d\n", (int)pid);
    ssize_t w = write(fd, line, (size_t)len);
    int err = w == len ? 0 : w < 0 ? errno : EIO;
    if (close(fd) < 0 && !err)
        err = errno;
    if (!err && rename(tmp, path) < 0)
        err = errno;
    if (err) {
        unlink(tmp);
        errno = err;
        return -1;
    }
    return 0;
}

void ff_pidfile_remove(const char *path, pid_t pid)
{
    char line[24] = {0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, line, sizeof line - 1);
    close(fd);
    if (n > 0 && strtol(line, NULL, 10) == (long)pid)
        unlink(path);
}
