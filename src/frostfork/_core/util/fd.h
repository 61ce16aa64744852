/* util/fd.h — letting go of a shared socket without freeing its fd number. */
#ifndef FF_UTIL_FD_H
#define FF_UTIL_FD_H

#include <fcntl.h>
#include <unistd.h>

/* Drops this process's reference to whatever fd points at, but keeps the
 * number taken (by /dev/null) so that no later socket gets it while other
 * code still holds the number: the master's Python socket object closes it
 * at exit, and the worker's config keeps naming it. A listening socket shared
 * over fork() stops listening only when its last holder lets go. */
static inline void ff_fd_release(int fd)
{
    if (fd < 0)
        return;
    int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (nul < 0 || dup3(nul, fd, O_CLOEXEC) < 0)
        close(fd); /* no /dev/null: give the number up rather than keep the socket */
    if (nul >= 0)
        close(nul);
}

#endif
