"""cle.heap: freed memory handed back, and glibc's huge-page tunable for programs that ask: when
the tunable is added (and when the user's setting stands), and the relaunch with it. Which
commands relaunch: tests/models/app/test_cli_scripts.py."""
import os
import platform
import subprocess
import sys

import pytest

from cle.heap import HUGE_PAGES_TUNABLE, environment_with_huge_pages, release_freed_memory

GLIBC_LINUX = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


def test_freed_memory_is_released_where_the_c_library_can():
    assert release_freed_memory() is GLIBC_LINUX


@pytest.fixture
def thp(tmp_path):
    def setting(text):
        path = tmp_path / "enabled"
        path.write_text(text)
        return path
    return setting


def test_the_tunable_is_added_beside_the_users_others(thp):
    environ = {"PATH": "/bin", "GLIBC_TUNABLES": "glibc.malloc.arena_max=2"}
    new = environment_with_huge_pages(environ, libc="glibc", thp_setting=thp("always [madvise] never\n"))
    assert new == {"PATH": "/bin", "GLIBC_TUNABLES": "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1"}
    assert environ["GLIBC_TUNABLES"] == "glibc.malloc.arena_max=2"          # the given mapping is kept
    alone = environment_with_huge_pages({}, libc="glibc", thp_setting=thp("[always] madvise never\n"))
    assert alone == {"GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"}


@pytest.mark.parametrize("environ, libc, setting", [
    ({"GLIBC_TUNABLES": "glibc.malloc.hugetlb=0"}, "glibc", "always [madvise] never"),    # the user's choice
    ({"GLIBC_TUNABLES": "a.b=1:glibc.malloc.hugetlb=2"}, "glibc", "[always] madvise never"),
    ({}, "", "always [madvise] never"),                                                  # not glibc
    ({}, "glibc", "always madvise [never]"),                                             # no huge pages
    ({}, "glibc", None),                                                                 # no such file
])
def test_nothing_to_change(thp, tmp_path, environ, libc, setting):
    path = thp(setting) if setting else tmp_path / "missing"
    assert environment_with_huge_pages(environ, libc=libc, thp_setting=path) is None


RELAUNCH = """
import os, sys
from cle.heap import relaunch_with_huge_pages
print("run", os.environ.get("GLIBC_TUNABLES"), sys.argv[1:], flush=True)
relaunch_with_huge_pages()
"""


@pytest.mark.skipif(environment_with_huge_pages({}) is None,
                    reason="needs glibc and transparent huge pages on request")
@pytest.mark.parametrize("tunables, runs", [
    (None, ["run None ['a', 'b c']", f"run {HUGE_PAGES_TUNABLE}=1 ['a', 'b c']"]),
    (f"{HUGE_PAGES_TUNABLE}=0", [f"run {HUGE_PAGES_TUNABLE}=0 ['a', 'b c']"]),
])
def test_a_program_relaunches_itself_once_with_the_same_command_line(tunables, runs):
    environ = {key: value for key, value in os.environ.items() if key != "GLIBC_TUNABLES"}
    if tunables:
        environ["GLIBC_TUNABLES"] = tunables
    run = subprocess.run([sys.executable, "-c", RELAUNCH, "a", "b c"], env=environ, capture_output=True, text=True,
                         check=True)
    assert run.stdout.splitlines() == runs


def test_a_program_runs_on_when_it_cannot_be_executed_again(monkeypatch):
    from cle import heap

    calls = []

    def execve(path, argv, environ):
        calls.append((path, argv, environ))
        raise PermissionError("not allowed here")

    environ = {"GLIBC_TUNABLES": f"{HUGE_PAGES_TUNABLE}=1"}
    monkeypatch.setattr(heap.os, "execve", execve)
    monkeypatch.setattr(heap, "environment_with_huge_pages", lambda _: environ)
    assert heap.relaunch_with_huge_pages() is None
    assert calls == [(sys.executable, list(sys.orig_argv), environ)]
