"""A disk that fails on demand, for the fault tests: a FUSE file system passing everything through to
a backing directory, except that while the control file names a fault, operations that change a
file whose path contains the control file's text fail with it (EIO by default) — as a failing disk
answers writes and fsyncs while its reads still work.

    /usr/bin/python3 faulty-fs.py <backing dir> <mount point> <control file>

The control file holds `<errno name> <path fragment>` (e.g. `EIO broadcasts/`), or nothing for a
healthy disk. It is read at every operation that can fail, so a test switches faults on and off by
writing it. Runs in the foreground until unmounted (umount <mount point>).

Written by hand because no packaged tool injects errors this way here (no device-mapper in this
kernel, so no dm-error or dm-flakey); fusepy (Debian's python3-fusepy) does the FUSE protocol.
"""

import errno
import os
import sys

from fusepy import FUSE, FuseOSError, Operations


class FaultyFs(Operations):
    def __init__(self, root, control):
        self.root = root
        self.control = control

    def _path(self, path):
        return os.path.join(self.root, path.lstrip('/'))

    def _maybe_fail(self, path):
        try:
            with open(self.control) as f:
                spec = f.read().split()
        except FileNotFoundError:
            return
        if len(spec) == 2 and spec[1] in path:
            raise FuseOSError(getattr(errno, spec[0], errno.EIO))

    # What fails: every change to a file's data or to the directory entries naming it.
    def write(self, path, data, offset, fh):
        self._maybe_fail(path)
        return os.pwrite(fh, data, offset)

    def fsync(self, path, datasync, fh):
        self._maybe_fail(path)
        if fh is None:  # a directory's fsync, when FUSE passes no handle
            return 0
        return os.fdatasync(fh) if datasync else os.fsync(fh)

    def fsyncdir(self, path, datasync, fh):
        self._maybe_fail(path)
        return 0

    def create(self, path, mode, fi=None):
        self._maybe_fail(path)
        return os.open(self._path(path), os.O_RDWR | os.O_CREAT | os.O_TRUNC, mode)

    def truncate(self, path, length, fh=None):
        self._maybe_fail(path)
        if fh is not None:
            return os.ftruncate(fh, length)
        with open(self._path(path), 'r+') as f:
            f.truncate(length)

    def rename(self, old, new):
        self._maybe_fail(new)
        return os.rename(self._path(old), self._path(new))

    def unlink(self, path):
        self._maybe_fail(path)
        return os.unlink(self._path(path))

    def mkdir(self, path, mode):
        self._maybe_fail(path)
        return os.mkdir(self._path(path), mode)

    def rmdir(self, path):
        return os.rmdir(self._path(path))

    def link(self, target, source):
        return os.link(self._path(source), self._path(target))

    def symlink(self, target, source):
        return os.symlink(source, self._path(target))

    def readlink(self, path):
        return os.readlink(self._path(path))

    # Everything else passes through.
    def access(self, path, mode):
        if not os.access(self._path(path), mode):
            raise FuseOSError(errno.EACCES)

    def chmod(self, path, mode):
        return os.chmod(self._path(path), mode)

    def chown(self, path, uid, gid):
        return os.chown(self._path(path), uid, gid)

    def getattr(self, path, fh=None):
        st = os.lstat(self._path(path))
        keys = ('st_atime', 'st_ctime', 'st_gid', 'st_mode', 'st_mtime', 'st_nlink', 'st_size', 'st_uid', 'st_blocks')
        return {key: getattr(st, key) for key in keys}

    def readdir(self, path, fh):
        return ['.', '..'] + os.listdir(self._path(path))

    def statfs(self, path):
        st = os.statvfs(self._path(path))
        keys = ('f_bavail', 'f_bfree', 'f_blocks', 'f_bsize', 'f_favail', 'f_ffree', 'f_files', 'f_flag', 'f_frsize', 'f_namemax')
        return {key: getattr(st, key) for key in keys}

    def utimens(self, path, times=None):
        return os.utime(self._path(path), times)

    def open(self, path, flags):
        return os.open(self._path(path), flags)

    def opendir(self, path):
        return 0

    def read(self, path, size, offset, fh):
        return os.pread(fh, size, offset)

    def flush(self, path, fh):
        return 0

    def release(self, path, fh):
        return os.close(fh)

    def releasedir(self, path, fh):
        return 0


if __name__ == '__main__':
    backing, mount, control = sys.argv[1:4]
    # allow_other: the server may drop privileges; default_permissions: the kernel checks modes.
    FUSE(FaultyFs(backing, control), mount, foreground=True, nothreads=True, allow_other=True, default_permissions=True)
