"""A warm interpreter for local jobs: one server process imports torch, NumPy, SciPy, h5py, pandas,
matplotlib, seaborn and the plug-in packages once, and every later job of the same code and
environment on this machine runs in a fresh process forked from it, so a job no longer pays an
interpreter start and those imports (about 1.1 s of CPU per computing job, 2 s per figure job on a
2-core laptop; ``benchmarks/startup.py``).

A job is still one process with its own log, exit status, random state and thread count: the
fork happens before any tensor operation (the server computes nothing, so no thread pool exists
to be copied), and the child runs exactly the job code a fresh interpreter runs (``tests/test_warm.py``
compares artifacts bit for bit). The Snakemake job process (the *client*) hands its job over on a
Unix socket with its stdout and stderr, forwards SIGINT, SIGTERM and SIGHUP to the child, and exits
with the child's status; a child whose client disappears kills itself.

Used only where it is sound and pays: on Linux, outside SLURM jobs (``SLURM_JOB_ID`` unset: a
cluster job runs once per node), unless ``INVNET_WARM=0``. The server of one code version and
environment is keyed by a hash of both, so an edited module or a changed environment variable gets
a new server; a server ends after ``INVNET_WARM_IDLE_S`` seconds (default 120) without a running or new job.
If there is no server yet, the job starts one in the background and runs itself, as before.
"""

from __future__ import annotations

# The client side (every local job's command runs it) imports only what handing a job over needs:
# each module less is milliseconds on each of hundreds of jobs. The server's modules load lazily.
import hashlib
import os
import pickle
import signal
import socket
import struct
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only (``from __future__ import annotations``): typing is not loaded
    from collections.abc import Mapping
    from pathlib import Path
    from typing import Any

PACKAGE_DIR = os.path.dirname(os.path.realpath(__file__))
# Environment variables that differ between otherwise identical job processes and that no job reads.
VOLATILE_ENV = frozenset({"PWD", "OLDPWD", "SHLVL", "_", "INVNET_WARM_IDLE_S"})
# Imported by the server before it forks a job (each only if it imports here).
PRELOAD = ("numpy", "scipy", "scipy.optimize", "scipy.stats", "h5py", "threadpoolctl", "pandas", "torch",
           "matplotlib.pyplot", "seaborn")
STARTED: list[int] = []  # the pid of a server this process started (its start counts in this job's benchmark)
PLUGIN_PACKAGES = ("invnet.problems", "invnet.solvers", "invnet.figures", "invnet.tables", "invnet.studies")
_HEADER = struct.Struct("!I")


def enabled() -> bool:
    """Whether a job may hand itself to a warm interpreter (Linux, not in a SLURM job, not turned off)."""
    return (sys.platform.startswith("linux") and not os.environ.get("SLURM_JOB_ID")
            and os.environ.get("INVNET_WARM", "1") != "0" and hasattr(socket, "send_fds"))


def server_key(env: Mapping[str, str] | None = None) -> str:
    """What a server must share with a job: the interpreter, the package's source files (path,
    size, modification time), the import path, the environment and the installed packages it
    preloads (their ``__init__`` files' size and modification time)."""
    from importlib.machinery import PathFinder

    env = os.environ if env is None else env
    h = hashlib.sha256()
    h.update(f"{sys.executable}\0{sys.version}\0{os.getuid()}\0{PACKAGE_DIR}\0".encode())
    sources = sorted(os.path.join(folder, name) for folder, _, names in os.walk(PACKAGE_DIR)
                     for name in names if name.endswith(".py"))
    for path in sources:
        st = os.stat(path)
        h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    h.update(repr(sys.path).encode())
    h.update(repr(sorted((k, v) for k, v in env.items() if k not in VOLATILE_ENV)).encode())
    for name in sorted({m.split(".")[0] for m in PRELOAD}):  # a package reinstalled: a new server
        spec = PathFinder.find_spec(name, sys.path)
        if spec is not None and spec.origin and os.path.exists(spec.origin):
            st = os.stat(spec.origin)
            h.update(f"{spec.origin}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    return h.hexdigest()[:20]


def socket_path(key: str) -> str:
    """The server's socket, in a folder only this user can enter (``$XDG_RUNTIME_DIR``, else the
    temporary folder; a socket's path must stay under 108 bytes)."""
    for base in (os.environ.get("XDG_RUNTIME_DIR"), os.environ.get("TMPDIR"), "/tmp"):
        if base and len(os.fsencode(base)) < 60 and os.path.isdir(base):
            root = os.path.join(base, f"invnet-warm-{os.getuid()}")
            os.makedirs(root, mode=0o700, exist_ok=True)
            return os.path.join(root, f"{key}.sock")
    raise OSError("no folder with a short enough path for the warm interpreter's socket")


# ----------------------------------------------------------------------------- client


def _send(conn: socket.socket, payload: dict[str, Any], fds: list[int] = ()) -> None:
    data = pickle.dumps(payload)  # exact types (a job's params hold tuples); same user, 0700 folder
    if fds:
        socket.send_fds(conn, [_HEADER.pack(len(data))], list(fds))
    else:
        conn.sendall(_HEADER.pack(len(data)))
    conn.sendall(data)


def _recv_exact(conn: socket.socket, size: int) -> bytes:
    chunks, got = [], 0
    while got < size:
        chunk = conn.recv(size - got)
        if not chunk:
            raise ConnectionError("connection closed")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _recv(conn: socket.socket, with_fds: int = 0) -> tuple[dict[str, Any], list[int]]:
    fds: list[int] = []
    if with_fds:
        header, fds, _, _ = socket.recv_fds(conn, _HEADER.size, with_fds)
        if len(header) < _HEADER.size:
            header += _recv_exact(conn, _HEADER.size - len(header))
    else:
        header = _recv_exact(conn, _HEADER.size)
    (size,) = _HEADER.unpack(header)
    return pickle.loads(_recv_exact(conn, size)), fds


def run_in_warm_interpreter(job: dict[str, Any]) -> int | None:
    """Hand ``job`` (what :func:`invnet.jobs.run_logged_job` takes) to this machine's warm server
    and return the child's exit status once it ends; None if no server took it (then the caller
    runs the job itself; a server is started in the background for the jobs after it)."""
    key, path = server_key(), None
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        path = socket_path(key)
        conn.connect(str(path))
        _send(conn, {**job, "cwd": os.getcwd(), "env": dict(os.environ), "sys_path": sys.path},
              [sys.stdout.fileno(), sys.stderr.fileno()])
        ack, _ = _recv(conn)
    except (OSError, ConnectionError, ValueError, EOFError, pickle.PickleError):
        conn.close()
        if path is not None:
            _start_server(key, path)
        return None
    if "pid" not in ack:  # the child failed before it took the job (its status is all it sent)
        conn.close()
        return None
    child = int(ack["pid"])  # from here on the job is the child's: never run it here as well

    def forward(signum, _frame):
        try:
            os.kill(child, signum)
        except ProcessLookupError:
            pass

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, forward)
    try:
        status, _ = _recv(conn)
        return int(status["exit"])
    except (OSError, ConnectionError, ValueError, EOFError, pickle.PickleError):
        return 1  # the child died without reporting (killed by a signal): its log says how far it got
    finally:
        conn.close()


def _errors_file(path: str | Path) -> str:
    """Where the server of the socket ``path`` writes its own errors."""
    return os.path.splitext(str(path))[0] + ".log"


def _start_server(key: str, path: str) -> None:
    """Start the server of ``key`` in its own session, detached from this job's output; a second
    one started at the same time finds the lock taken and ends at once."""
    import subprocess

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    try:
        with open(_errors_file(path), "a") as errors:  # the server's own errors, if any
            server = subprocess.Popen(
                [sys.executable, "-m", "invnet.warm", key, str(path), PACKAGE_DIR], env=env, cwd="/",
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors, start_new_session=True,
                close_fds=True)
        STARTED.append(server.pid)
    except OSError:
        pass


# ----------------------------------------------------------------------------- server


def preload() -> None:
    """Import what jobs import, so that a forked job finds it loaded. Nothing is computed: no
    tensor operation (torch's thread pools start on the first), no file opened, no RNG drawn."""
    import importlib

    from .devices import defer_dynamo_import

    defer_dynamo_import()  # as every solve job does before torch.optim loads (invnet.jobs)
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a package missing here is imported (or not) by the job
            pass
    from . import jobs  # noqa: F401
    from .registry import _modules

    for package in PLUGIN_PACKAGES:
        try:
            _modules(package)
        except Exception:  # noqa: BLE001 - the job reports its own import errors
            pass


def serve(key: str, path: str | Path, idle_s: float | None = None) -> None:
    """Accept jobs on ``path`` and run each in a forked child, until ``idle_s`` pass without one."""
    import fcntl
    from pathlib import Path

    path = Path(path)
    idle_s = float(os.environ.get("INVNET_WARM_IDLE_S", 120)) if idle_s is None else idle_s
    lock = open(f"{path}.lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return  # another server of this key runs or is starting
    preload()
    path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    os.chmod(path, 0o600)
    listener.listen(64)
    signal.signal(signal.SIGCHLD, _reap)  # waited for, so their CPU counts in this process's children
    _LAST[0] = time.monotonic()  # ready from now on
    try:
        while True:
            # Idle counts from the later of the last job handed over and the last job's end: a
            # timeout counted from the last connection alone could end the server the moment its
            # last jobs end, with the next job on its way (jobs as long as the idle time did so).
            left = idle_s - (time.monotonic() - max(_LAST[0], _LAST[1]))
            if not _RUNNING and left <= 0:
                break
            listener.settimeout(max(left, 0.05) if not _RUNNING else idle_s)
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            _LAST[0] = time.monotonic()
            conn.settimeout(None)
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})  # reaped only once recorded
            pid = os.fork()
            if pid == 0:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
                listener.close()
                lock.close()
                _child(conn, key)  # never returns
            _RUNNING.add(pid)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
            conn.close()
    finally:
        # Nothing left behind: the socket (a job that finds none starts a new server), the lock
        # and an empty error log. A server starting meanwhile may lock the old lock file's inode
        # and another the new one's: two servers of one key for a moment, each job still whole.
        path.unlink(missing_ok=True)
        listener.close()
        Path(f"{path}.lock").unlink(missing_ok=True)
        errors = Path(_errors_file(path))
        if errors.exists() and errors.stat().st_size == 0:
            errors.unlink(missing_ok=True)


_RUNNING: set[int] = set()  # the server's children (jobs) not yet ended
_LAST = [time.monotonic(), 0.0]  # when the server last took a job, and when a job last ended


def _reap(_signum=None, _frame=None) -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            _RUNNING.clear()
            return
        if pid == 0:
            return
        _RUNNING.discard(pid)
        _LAST[1] = time.monotonic()


def _child(conn: socket.socket, key: str) -> None:
    """Run the job sent on ``conn`` in this forked process and report its exit status."""
    import threading
    import traceback

    code = 1
    try:
        for signum in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL)
        job, fds = _recv(conn, with_fds=2)
        for fd, target in zip(fds, (1, 2)):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(job["cwd"])
        os.environ.clear()
        os.environ.update(job["env"])
        sys.path[:] = job["sys_path"]
        _send(conn, {"pid": os.getpid()})
        threading.Thread(target=_die_with_client, args=(conn,), daemon=True).start()
        from .jobs import run_logged_job

        code = run_logged_job({**job, "server": key}, warm=True)
    except BaseException:  # noqa: BLE001 - whatever happened, the client gets a status
        try:
            traceback.print_exc()
            sys.stderr.flush()
        except Exception:  # noqa: BLE001
            pass
        code = 1
    finally:
        try:
            _send(conn, {"exit": code})
        except OSError:
            pass
        os._exit(code)


def _die_with_client(conn: socket.socket) -> None:
    """End this job if its client (the Snakemake job process) is gone: killed, or its node lost."""
    try:
        while conn.recv(1):
            pass
    except OSError:
        pass
    os.kill(os.getpid(), signal.SIGKILL)


def main(argv: list[str] | None = None) -> None:
    key, path, package_dir = (sys.argv[1:] if argv is None else argv)[:3]
    if os.path.realpath(package_dir) == PACKAGE_DIR:  # else the import path found another copy of invnet: no server
        serve(key, path)


if __name__ == "__main__":
    main()
