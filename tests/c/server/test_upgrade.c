/* tests/c/server/test_upgrade.c — unit tests of server/upgrade.c.
 *
 * The pid file (written whole, replaced, removed only by the process it
 * names), the ready pipe as the old master reads it (ready, an error with its
 * reason, nothing yet, a message cut in two), a real fork+exec of /bin/sh
 * playing the new master, and the sd_notify datagram.
 */
#include "harness.h"

#include "server/upgrade.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

static char dir[] = "/tmp/ff-test-upgrade-XXXXXX";

static void read_file(const char *path, char *out, size_t cap)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = '\0';
    fclose(f);
}

static void test_pidfile(void)
{
    char path[128], text[64];
    snprintf(path, sizeof path, "%s/api.pid", dir);
    CHECK(ff_pidfile_write(path, 4242) == 0, "write: %s", strerror(errno));
    read_file(path, text, sizeof text);
    CHECK(strcmp(text, "4242\n") == 0, "content %s", text);
    CHECK(ff_pidfile_write(path, 77) == 0, "rewrite: %s", strerror(errno));
    read_file(path, text, sizeof text);
    CHECK(strcmp(text, "77\n") == 0, "replaced content %s", text);
    ff_pidfile_remove(path, 4242); /* names 77 now: left alone */
    CHECK(access(path, F_OK) == 0, "a master removed a pid file naming another");
    ff_pidfile_remove(path, 77);
    CHECK(access(path, F_OK) != 0, "the master it names did not remove it");
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.77.tmp", path);
    CHECK(access(tmp, F_OK) != 0, "temporary file left behind");
    snprintf(path, sizeof path, "%s/no/such/dir/api.pid", dir);
    CHECK(ff_pidfile_write(path, 1) < 0 && errno == ENOENT, "errno %d", errno);
}

/* An ff_upgrade reading the read end of a fresh pipe; *w gets the write end. */
static void pipe_upgrade(ff_upgrade *u, int *w)
{
    int p[2];
    memset(u, 0, sizeof *u);
    u->rfd = -1;
    if (pipe(p) < 0)
        return;
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    u->rfd = p[0];
    *w = p[1];
}

static void test_ready_pipe(void)
{
    ff_upgrade u;
    int w;

    pipe_upgrade(&u, &w);
    CHECK(ff_upgrade_read(&u) == 0, "nothing written yet");
    CHECK(write(w, "rea", 3) == 3, "write");
    CHECK(ff_upgrade_read(&u) == 0, "half a word is not ready");
    CHECK(write(w, "dy\n", 3) == 3, "write");
    CHECK(ff_upgrade_read(&u) == 1, "ready in two pieces");
    CHECK(u.rfd == -1, "pipe closed once ready");
    close(w);

    pipe_upgrade(&u, &w);
    const char *err = "error: importing myapi:app raised SyntaxError\n";
    CHECK(write(w, err, strlen(err)) == (ssize_t)strlen(err), "write");
    CHECK(ff_upgrade_read(&u) == 0, "an error without the close is not final");
    close(w);
    CHECK(ff_upgrade_read(&u) == -1, "closed without ready");
    CHECK(strcmp(ff_upgrade_reason(&u), "importing myapi:app raised SyntaxError") == 0,
          "reason %s", ff_upgrade_reason(&u));
    CHECK(ff_upgrade_read(&u) == -1, "read again after the close");

    pipe_upgrade(&u, &w);
    close(w);
    CHECK(ff_upgrade_read(&u) == -1 && ff_upgrade_reason(&u)[0] == '\0', "silent exit");

    pipe_upgrade(&u, &w); /* more than the message buffer: the rest is discarded */
    char big[2000];
    memset(big, 'x', sizeof big);
    CHECK(write(w, big, sizeof big) == (ssize_t)sizeof big, "write");
    close(w);
    CHECK(ff_upgrade_read(&u) == -1 && u.msg_len == sizeof u.msg - 1, "len %zu", u.msg_len);
}

/* Waits (bounded) for the new master's word. */
static int wait_word(ff_upgrade *u)
{
    for (int i = 0; i < 500; i++) {
        int r = ff_upgrade_read(u);
        if (r != 0)
            return r;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

static char **argv_of(const char *a, const char *b, const char *c)
{
    char **argv = calloc(4, sizeof *argv);
    argv[0] = strdup(a);
    argv[1] = b ? strdup(b) : NULL;
    argv[2] = c ? strdup(c) : NULL;
    return argv;
}

static void test_start(void)
{
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sigset_t mask;
    sigemptyset(&mask);

    /* /bin/sh plays the new master: its listening fd is open, its
     * environment names it and the old master, and it says ready */
    ff_upgrade u = {.rfd = -1};
    u.argv = argv_of("/bin/sh", "-c",
                     "[ -e /proc/self/fd/$FROSTFORK_UPGRADE_LISTEN_FD ] && "
                     "[ \"$FROSTFORK_UPGRADE_FROM\" = \"$PPID\" ] && "
                     "[ -z \"$FROSTFORK_UPGRADE_METRICS_FD\" ] && [ -z \"$LISTEN_PID\" ] && "
                     "[ \"$(pwd)\" = / ] && echo ready >&$FROSTFORK_UPGRADE_PIPE");
    u.cwd = strdup("/");
    setenv("LISTEN_PID", "1", 1); /* systemd's, for the old master only */
    pid_t pid = ff_upgrade_start(&u, lfd, -1, &mask);
    unsetenv("LISTEN_PID");
    CHECK(pid > 0 && u.pid == pid, "start: %s", strerror(errno));
    CHECK(wait_word(&u) == 1, "the new master said ready (got %s)", u.msg);
    int status = -1;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
    ff_upgrade_free(&u);

    /* an interpreter that is not there: the child says so on the pipe */
    u = (ff_upgrade){.rfd = -1};
    u.argv = argv_of("/no/such/python", NULL, NULL);
    pid = ff_upgrade_start(&u, lfd, -1, &mask);
    CHECK(pid > 0, "start: %s", strerror(errno));
    CHECK(wait_word(&u) == -1, "failure is final");
    CHECK(strstr(ff_upgrade_reason(&u), "cannot execute") != NULL, "reason %s",
          ff_upgrade_reason(&u));
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 127, "status %d", status);
    ff_upgrade_free(&u);

    u = (ff_upgrade){.rfd = -1}; /* nothing to run */
    CHECK(ff_upgrade_start(&u, lfd, -1, &mask) < 0 && errno == EINVAL, "errno %d", errno);
    close(lfd);
}

static void test_sd_notify(void)
{
    char path[96]; /* fits sun_path */
    snprintf(path, sizeof path, "%s/notify", dir);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
    CHECK(bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0, "bind: %s", strerror(errno));
    setenv("NOTIFY_SOCKET", path, 1);
    ff_sd_notify("MAINPID=12\nREADY=1");
    char got[64] = {0};
    ssize_t n = recv(fd, got, sizeof got - 1, MSG_DONTWAIT);
    CHECK(n == 18 && strcmp(got, "MAINPID=12\nREADY=1") == 0, "got %zd %s", n, got);
    unsetenv("NOTIFY_SOCKET");
    ff_sd_notify("READY=1"); /* without the variable: nothing, no crash */
    CHECK(recv(fd, got, sizeof got, MSG_DONTWAIT) < 0, "a datagram without NOTIFY_SOCKET");
    close(fd);
    unlink(path);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_pidfile();
    test_ready_pipe();
    test_start();
    test_sd_notify();
    rmdir(dir);
    return th_summary("server/upgrade");
}
