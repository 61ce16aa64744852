/* life/spool.c — spool directories (see spool.h). */
#define _GNU_SOURCE
#include "life/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

int ff_rmtree(const char *path)
{
    if (!path[0])
        return 0;
    int rc = nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    return rc < 0 && errno == ENOENT ? 0 : rc;
}

void ff_spool_worker_dir(char *out, size_t len, const char *root, pid_t pid)
{
    snprintf(out, len, "%s/w%d", root, (int)pid);
}

int ff_spool_open(const char *dir, char *out, size_t len)
{
    if ((size_t)snprintf(out, len, "%s/body-XXXXXX", dir) >= len)
        return -1;
    return mkostemp(out, O_CLOEXEC);
}

int ff_write_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}
