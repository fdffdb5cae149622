"""Take away a process's right to open sockets, enforced by the kernel (seccomp).

pyoxigraph answers ``SERVICE`` by opening an HTTP connection itself.  The grammar check
in :mod:`kg.sparql` refuses such queries; this is the second wall, for the processes that
do nothing but answer queries (the endpoint's workers, ``wikikg query``): after
:func:`deny_network` no thread of the process can create a socket of any family, so no
query, however it is written, can reach a URL, a local service or a DNS server.

Why seccomp: it works unprivileged on every Linux since 3.5 (``no_new_privs`` first, which
also means the process can never gain privileges through ``execve``), it covers every
thread (``SECCOMP_FILTER_FLAG_TSYNC``: RocksDB has threads of its own), and it is
inherited by children.  Landlock's network rules need Linux 6.7 and cover only TCP; a
network namespace needs unprivileged user namespaces, which some distributions switch
off.  The filter is a classic-BPF program of eight instructions, loaded with ``prctl`` and
``seccomp`` through ctypes: ``socket``, ``socketpair`` and ``io_uring_setup`` (io_uring
can open and connect sockets without those system calls) fail with ``EACCES``; every
other call, and sockets opened before (the worker's pipe to the server), are untouched.

Elsewhere (macOS, Windows, other CPUs, a container whose own seccomp profile forbids
installing filters) :func:`deny_network` returns the reason it could not, and the caller
logs it: the grammar check still refuses every ``SERVICE``, but nothing below it does.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct
import sys

PR_SET_NO_NEW_PRIVS = 38
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_TSYNC = 1
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
X32_SYSCALL_BIT = 0x40000000

# machine -> (audit arch, seccomp, socket, socketpair, io_uring_setup)
_ARCHES = {
    "x86_64": (0xC000003E, 317, 41, 53, 425),
    "aarch64": (0xC00000B7, 277, 198, 199, 425),
}

# classic BPF opcodes
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_RET_K = 0x06


def _program(arch: int, denied: tuple[int, ...]) -> list[tuple[int, int, int, int]]:
    """``(code, jt, jf, k)``: another ABI (i386, x32) or a denied call -> EACCES."""
    deny = SECCOMP_RET_ERRNO | errno.EACCES
    n = len(denied)
    program = [(_LD_W_ABS, 0, 0, 4),                       # A = seccomp_data.arch
               (_JEQ_K, 1, 0, arch),                        # native ABI: go on
               (_RET_K, 0, 0, deny),
               (_LD_W_ABS, 0, 0, 0),                        # A = seccomp_data.nr
               (_JGE_K, n + 1, 0, X32_SYSCALL_BIT)]         # x32 numbers: deny
    for i, number in enumerate(denied):                     # a match jumps to the deny below
        program.append((_JEQ_K, n - i, 0, number))
    program += [(_RET_K, 0, 0, SECCOMP_RET_ALLOW), (_RET_K, 0, 0, deny)]
    return program


def deny_network() -> str | None:
    """Forbid new sockets in this process and its children; ``None`` on success, else why not."""
    if sys.platform != "linux":
        return f"no seccomp on {sys.platform}"
    arch = _ARCHES.get(platform.machine())
    if arch is None:
        return f"no seccomp filter written for {platform.machine()}"
    audit_arch, seccomp_nr, *denied = arch
    program = _program(audit_arch, tuple(denied))
    filters = b"".join(struct.pack("=HBBI", *instruction) for instruction in program)
    buffer = ctypes.create_string_buffer(filters)
    # struct sock_fprog { unsigned short len; struct sock_filter *filter; }
    fprog = struct.pack("=HxxxxxxQ", len(program), ctypes.addressof(buffer))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return f"prctl(PR_SET_NO_NEW_PRIVS): {os.strerror(ctypes.get_errno())}"
    fprog_buffer = ctypes.create_string_buffer(fprog)
    if libc.syscall(seccomp_nr, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC,
                    fprog_buffer) != 0:
        return f"seccomp(SET_MODE_FILTER): {os.strerror(ctypes.get_errno())}"
    return None


def network_denied(pid: int | str = "self") -> bool:
    """Whether a seccomp filter is on ``pid`` (from ``/proc``; False where there is none)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return any(line.split() == ["Seccomp:", "2"] for line in status)
    except OSError:
        return False
