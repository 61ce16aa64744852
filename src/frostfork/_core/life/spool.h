/* life/spool.h — spool directories for request bodies and temp files.
 *
 * Pure C. The master makes <root>/frostfork-<master pid>/; each worker makes
 * w<pid>/ inside it. A worker removes its files as requests end; when a
 * worker dies without doing so (SIGKILL, segfault) the master removes its
 * whole directory before starting the replacement. */
#ifndef FF_LIFE_SPOOL_H
#define FF_LIFE_SPOOL_H

#include <stddef.h>
#include <sys/types.h>

/* Removes a directory tree (no symlinks followed). Returns 0 or -1. */
int ff_rmtree(const char *path);
/* The spool directory of worker `pid` under `root`, into out. */
void ff_spool_worker_dir(char *out, size_t len, const char *root, pid_t pid);
/* Creates a unique file in dir for a spooled body; the path goes to out.
 * Returns the fd (O_RDWR, CLOEXEC) or -1. */
int ff_spool_open(const char *dir, char *out, size_t len);
/* Writes all of buf; returns 0 or -1. */
int ff_write_all(int fd, const char *buf, size_t len);

#endif
