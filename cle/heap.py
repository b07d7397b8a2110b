"""The C library's heap (glibc): freed memory handed back, huge pages for big blocks.

Two facts about a training process (JAX mode on a CPU; the measurements are in
benchmarks/README.md):

1. **Compiling leaves freed memory in the heap.** XLA's compiler frees memory that glibc keeps in
   its per-thread arenas for the life of the process, under every later peak.
   :func:`release_freed_memory` (``malloc_trim(0)``) hands it back; :mod:`cle.finish` calls it
   after each XLA compile.
2. **Every call faults in its temporaries afresh.** XLA's CPU runtime allocates a call's
   temporaries as one block, larger than glibc's mmap threshold (at most 32 MB) for a training
   function; glibc serves such a block with a fresh ``mmap`` and unmaps it when freed, so each
   training step faults in every 4 KiB page of it again, in kernel time (``ru_minflt``,
   ``ru_stime``; strace shows one mmap/munmap pair per call). glibc's ``glibc.malloc.hugetlb=1``
   tunable marks such blocks for transparent huge pages (``madvise(MADV_HUGEPAGE)``): 2 MiB
   pages, 512 times fewer faults, for a slightly higher peak RSS.

glibc reads its tunables when a process starts, so a program that wants huge pages re-executes
itself once with the tunable added (:func:`relaunch_with_huge_pages`; the console scripts do).
A tunable the user set (``GLIBC_TUNABLES=glibc.malloc.hugetlb=0`` turns it off) is kept as it is.
Importing this module changes nothing.
"""
import ctypes
import ctypes.util
import os
import platform
import sys
from functools import lru_cache
from pathlib import Path

__all__ = ["release_freed_memory", "HUGE_PAGES_TUNABLE", "environment_with_huge_pages", "relaunch",
           "relaunch_with_huge_pages"]

#: The glibc tunable (2.35 and later) that asks for transparent huge pages on the heap's big blocks.
HUGE_PAGES_TUNABLE = "glibc.malloc.hugetlb"
#: Where Linux says whether transparent huge pages can be had ("always", "madvise" or "never").
THP_SETTING = Path("/sys/kernel/mm/transparent_hugepage/enabled")


@lru_cache(maxsize=1)
def _malloc_trim():
    """glibc's ``malloc_trim``, or None (another C library, or none found)."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        trim = libc.malloc_trim
    except (OSError, AttributeError, TypeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def release_freed_memory():
    """Hand the C heap's free memory back to the operating system; True when the C library can
    (glibc), False elsewhere (nothing is done)."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


def _huge_pages_on_request(thp_setting=THP_SETTING):
    """True when Linux gives transparent huge pages to memory that asks (``[always]`` or
    ``[madvise]`` selected in ``thp_setting``)."""
    try:
        text = Path(thp_setting).read_text()
    except OSError:
        return False
    return "[always]" in text or "[madvise]" in text


def environment_with_huge_pages(environ, libc=None, thp_setting=THP_SETTING):
    """A copy of ``environ`` with ``glibc.malloc.hugetlb=1`` added to ``GLIBC_TUNABLES``, or None
    when nothing is to be gained or changed: not glibc (``libc``, default
    ``platform.libc_ver()[0]``), no transparent huge pages from this kernel, or the tunable
    already set (to any value: the user's choice stands)."""
    libc = platform.libc_ver()[0] if libc is None else libc
    if libc != "glibc" or not _huge_pages_on_request(thp_setting):
        return None
    tunables = environ.get("GLIBC_TUNABLES", "")
    if any(item.split("=", 1)[0] == HUGE_PAGES_TUNABLE for item in tunables.split(":")):
        return None
    environment = dict(environ)
    environment["GLIBC_TUNABLES"] = ":".join(filter(None, [tunables, f"{HUGE_PAGES_TUNABLE}=1"]))
    return environment


def relaunch(environment):
    """Re-execute this process (same interpreter, same command line: ``sys.orig_argv``) with
    ``environment``; return without doing anything when it is None or equal to ``os.environ``,
    or when the interpreter cannot be executed again.

    For programs (console scripts, benchmarks), at their start: nothing before it is kept.
    """
    if environment is None or environment == os.environ or not sys.executable:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(sys.executable, list(sys.orig_argv), environment)
    except OSError:  # the interpreter cannot be executed again: run on as it is
        return


def relaunch_with_huge_pages():
    """:func:`relaunch` with :func:`environment_with_huge_pages` (once: the relaunched process
    finds the tunable set)."""
    relaunch(environment_with_huge_pages(os.environ))
