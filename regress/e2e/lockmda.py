#!/usr/bin/env python3
"""
A minimal mbox delivery agent that locks by liblockfile's rules, for the
end-to-end tests that race deliveries against popsepd:

	python3 lockmda.py MAILBOX MESSAGE-FILE [BOUND-SECONDS]

appends MESSAGE-FILE (a From_ line, the message, the separating newline)
to MAILBOX and exits 0 only once the bytes are on disk.  The dot-lock
MAILBOX.lock is taken as liblockfile takes it: a temporary file holding
our pid is written and link(2)ed to the lock name, so the lock is never
seen empty.  An existing lock whose pid is not running is broken at once;
an empty or unreadable one only when it is older than liblockfile's stale
age (5 minutes).  Then an fcntl write lock on the whole file, the append,
fsync; a failed write or fsync truncates the mailbox back to its old size
(as procmail and Postfix's local(8) do) and exits 73.  A lock still held
after BOUND-SECONDS (default 30) gives up with exit 75 (EX_TEMPFAIL)
having written nothing.
"""

import errno
import fcntl
import os
import sys
import time

STALE_AGE = 300                 # liblockfile: a lock without a live pid


def lock_is_stale(lock):
    try:
        with open(lock, "rb") as f:
            data = f.read(64)
        st = os.stat(lock)
    except FileNotFoundError:
        return False
    try:
        pid = int(data.split()[0]) if data.split() else 0
    except ValueError:
        pid = 0
    if pid > 0:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True             # its process is gone: broken at once
        except PermissionError:
            pass
        return False
    return time.time() - st.st_mtime > STALE_AGE


def take_dotlock(lock, deadline):
    tmp = "%s.%d.%d" % (lock, os.getpid(), int(time.time() * 1000) % 100000)
    while True:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(fd, b"%d\n" % os.getpid())
        finally:
            os.close(fd)
        try:
            os.link(tmp, lock)
            linked = True
        except FileExistsError:
            linked = False
        finally:
            os.unlink(tmp)
        if linked:
            return True
        if lock_is_stale(lock):
            try:
                os.unlink(lock)
            except FileNotFoundError:
                pass
            continue
        if time.time() > deadline:
            return False
        time.sleep(0.1)


def deliver(mailbox, data, bound):
    deadline = time.time() + bound
    lock = mailbox + ".lock"
    if not take_dotlock(lock, deadline):
        return 75
    try:
        fd = os.open(mailbox, os.O_WRONLY | os.O_APPEND)
        try:
            while True:
                try:
                    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as e:
                    if e.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                    if time.time() > deadline:
                        return 75
                    time.sleep(0.05)
            size = os.fstat(fd).st_size
            try:
                done = 0
                while done < len(data):
                    done += os.write(fd, data[done:])
                os.fsync(fd)
            except OSError:
                os.ftruncate(fd, size)
                os.fsync(fd)
                return 73
            fcntl.lockf(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
    finally:
        try:
            os.unlink(lock)
        except FileNotFoundError:
            pass
    return 0


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.stderr.write("usage: lockmda.py MAILBOX MESSAGE-FILE [BOUND]\n")
        sys.exit(64)
    with open(sys.argv[2], "rb") as f:
        msg = f.read()
    sys.exit(deliver(sys.argv[1], msg,
                     float(sys.argv[3]) if len(sys.argv) == 4 else 30))
