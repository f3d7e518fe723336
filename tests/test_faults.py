"""Faults of files and processes: output that cannot be written, the parent killed, a file
that crashes the process migrating it, and everything that can go wrong while a file is
replaced (its owner, hard links, extended attributes, long names, signals, a crash of the
machine, an edit racing the write).

Cases that kill or signal a process run the CLI in a subprocess driven by a small script
that hooks the point of the write path or of the engine where the fault is injected.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from est2tpu.cli import replace
from est2tpu.cli.replace import ChangedOnDisk, NotReplaced, replace_file
from test_cli_helpers import CHIEF, REPO, SPEC, TRAINED, engine, error_lines, run_cli, write

MIGRATED = None


def migrated() -> str:
    global MIGRATED
    if MIGRATED is None:
        MIGRATED = engine(SPEC)
    return MIGRATED


def temporaries(directory: Path):
    return [p.name for p in directory.iterdir() if p.name.endswith(replace.SUFFIX)]


def drive(cwd: Path, hook: str, *args: str, timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
    """Run ``est2tpu ARGS`` in a subprocess, after the Python statements ``hook``."""
    script = f"import sys\n{textwrap.dedent(hook)}\nfrom est2tpu.cli.main import main\nsys.exit(main({list(args)!r}))\n"
    env = {**kwargs.pop("env", os.environ)}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    kwargs.setdefault("stdout", subprocess.PIPE)
    return subprocess.run([sys.executable, "-c", script], cwd=cwd, env=env, stderr=subprocess.PIPE, text=True,
                          timeout=timeout, **kwargs)


# --------------------------------------------------------------------------- output


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("mode", [["--diff"], ["--check"], ["--check", "--output-format", "json"]])
def test_output_on_a_full_disk_is_a_clear_error_and_exit_2(tmp_path, mode):
    """stdout on a full disk (/dev/full fails every write with ENOSPC)."""
    write(tmp_path, {"m.py": CHIEF})
    with open("/dev/full", "w") as full:
        proc = drive(tmp_path, "", "migrate", *mode, "m.py", stdout=full)
    assert proc.returncode == 2, proc.stderr
    assert "est2tpu: error: cannot write the output: No space left on device; stopped, the output is incomplete" \
        in proc.stderr
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr, proc.stderr
    assert (tmp_path / "m.py").read_text() == CHIEF


@pytest.mark.parametrize("unbuffered", ["1", ""])
@pytest.mark.parametrize("mode", [["--diff"], ["--check", "--output-format", "json"]])
def test_output_cut_short_is_a_clear_error_and_exit_2(tmp_path, mode, unbuffered):
    """stdout on a file that takes only its first 4 KiB (RLIMIT_FSIZE: the write is cut
    short, then fails, as on a disk that fills up): unbuffered (PYTHONUNBUFFERED, common
    in containers), Python's text layer dropped what the file did not take, and the run
    exited 1 with a truncated patch."""
    import resource

    model_fn = CHIEF[CHIEF.index("def model_fn"):CHIEF.index(TRAINED)]
    trained = "\n\nest_{i} = tf.estimator.Estimator(model_fn_{i})\nest_{i}.train(input_fn, max_steps=10)\n"
    write(tmp_path, {"m.py": CHIEF + "".join("\n\n" + model_fn.replace("model_fn", f"model_fn_{i}") + trained.format(i=i)
                                             for i in range(40))})
    with open(tmp_path / "out", "wb") as out:  # one write of more than 4 KiB: the patch, or the report
        proc = drive(tmp_path, "", "migrate", *mode, "m.py", stdout=out,
                     env={**os.environ, "PYTHONUNBUFFERED": unbuffered},
                     preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096)))
    assert proc.returncode == 2, proc.stderr
    assert "est2tpu: error: cannot write the output: File too large; stopped, the output is incomplete" \
        in proc.stderr
    assert "Traceback" not in proc.stderr
    assert (tmp_path / "out").stat().st_size == 4096


# --------------------------------------------------------------------------- processes


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc")
@pytest.mark.parametrize("jobs, files", [("1", 1), ("2", 6)])
def test_worker_processes_end_when_the_parent_is_killed(tmp_path, jobs, files):
    """kill -9 of est2tpu while its workers (-j2: the pool; -j1: the child that runs the
    files one at a time) are busy: they end too."""
    write(tmp_path, {f"m{i}.py": SPEC for i in range(files)})
    pids = tmp_path / "pids"
    hook = f"""
        import os, time
        from est2tpu.cli import main as cli

        def busy(job):
            with open({str(pids)!r}, "a") as f:
                f.write(f"{{os.getpid()}}\\n")
            time.sleep(120)

        cli.process = busy
    """
    script = f"import sys\n{textwrap.dedent(hook)}\nfrom est2tpu.cli.main import main\n" \
             f"sys.exit(main(['migrate', '--check', '-j', {jobs!r}, '.']))\n"
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path, stderr=subprocess.DEVNULL)
    try:
        workers = set()
        for _ in range(300):
            workers = set(pids.read_text().split()) if pids.exists() else set()
            if len(workers) == int(jobs):
                break
            time.sleep(0.1)
        assert len(workers) == int(jobs)
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_alive(int(p)) for p in workers):
        time.sleep(0.1)
    left = [p for p in workers if _alive(int(p))]
    for pid in left:
        os.kill(int(pid), signal.SIGKILL)
    assert left == []


ABORT_ON_MARKER = """
    import os, resource
    from est2tpu.cli import main as cli

    real = cli.python_rejects  # the first thing the process migrating a file does with it

    def python_rejects(display, text, *args, **kwargs):
        if "CRASH_HERE" in text:  # as LibCST aborts when memory runs out
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            os.abort()
        return real(display, text, *args, **kwargs)

    cli.python_rejects = python_rejects
"""


@pytest.mark.parametrize("jobs, good", [("1", 2), ("2", 6)])
def test_a_file_that_aborts_its_process_fails_alone(tmp_path, jobs, good):
    """-j1 (and few files) run in one child process, -j2 in the pool: either way the file
    whose migration aborts (rc 134 for a whole run) is one error, and the run goes on."""
    goods = {f"m{i}.py": SPEC for i in range(good)}
    write(tmp_path, {**goods, "crash.py": SPEC + "# CRASH_HERE\n", "z.py": SPEC})
    proc = drive(tmp_path, ABORT_ON_MARKER, "migrate", "-j", jobs, ".")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert error_lines(proc.stderr) == ["crash.py: error: internal error: the process migrating this file was "
                                        "killed by SIGABRT; file left untouched"]
    assert f"{good + 1} files migrated, 0 unchanged, 1 failed, 0 findings" in proc.stderr
    assert (tmp_path / "crash.py").read_text() == SPEC + "# CRASH_HERE\n"
    assert all((tmp_path / name).read_text() == migrated() for name in [*goods, "z.py"])


# --------------------------------------------------------------------------- replacing a file: what is kept


def _as_user(uid: int, gid: int, function) -> int:
    """Run ``function`` in a forked child with this uid and gid: its exit code (3 for NotReplaced)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            function()
            code = 0
        except NotReplaced:
            code = 3
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


@pytest.mark.skipif(not hasattr(os, "fork") or os.geteuid() != 0, reason="becomes another user: needs root")
@pytest.mark.parametrize("owner", ["another user", "another group"])
def test_a_file_whose_owner_cannot_be_kept_is_refused(owner):
    """A file the runner may write but does not own: the new file would be the runner's,
    so it is not replaced.  (uids 4242/4343 need no account.)"""
    runner = 4343
    replace._renameat2()  # loaded here: the other user may not read this Python's modules
    uid, gid = (4242, 4242) if owner == "another user" else (runner, 4242)
    directory = Path(tempfile.mkdtemp())
    try:
        directory.chmod(0o777)
        path = directory / "m.py"
        path.write_text(SPEC)
        os.chown(path, uid, gid)
        path.chmod(0o666)
        code = _as_user(runner, runner, lambda: replace_file(str(path), b"new", expected=SPEC.encode()))
        assert code == 3
        st = path.stat()
        assert (st.st_uid, st.st_gid, path.read_text()) == (uid, gid, SPEC)
        assert temporaries(directory) == []
        # Its owner can: the file stays theirs.
        assert _as_user(uid, gid, lambda: replace_file(str(path), b"new", expected=SPEC.encode())) == 0
        st = path.stat()
        assert (st.st_uid, st.st_gid, path.read_bytes()) == (uid, gid, b"new")
    finally:
        shutil.rmtree(directory)


def test_a_hard_linked_file_is_written_through_its_links(tmp_path):
    write(tmp_path, {"m.py": SPEC})
    os.link(tmp_path / "m.py", tmp_path / "other_name")
    inode = (tmp_path / "m.py").stat().st_ino
    result = run_cli("migrate", "m.py", cwd=tmp_path)
    assert result.code == 0, result.err
    assert "m.py: note: has 2 hard links: written in place through them, not atomically" in result.err
    assert (tmp_path / "m.py").stat().st_ino == inode
    assert (tmp_path / "other_name").read_text() == (tmp_path / "m.py").read_text() == migrated()
    assert temporaries(tmp_path) == []


@pytest.mark.parametrize("fault", ["no room", "write fails"])
def test_a_failed_write_through_links_leaves_the_file_as_it_was(tmp_path, monkeypatch, fault):
    path = tmp_path / "m.py"
    path.write_text(SPEC)
    os.link(path, tmp_path / "other_name")
    if fault == "no room":  # the room for the longer file is reserved first
        def no_room(fd, offset, length):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(os, "posix_fallocate", no_room)
    else:  # half the new contents written, then an I/O error
        real = os.pwrite
        calls = []

        def failing(fd, data, offset):
            calls.append(offset)
            if len(calls) == 1:
                return real(fd, bytes(data[: len(data) // 2]), offset)
            if len(calls) == 2:
                raise OSError(errno.EIO, "Input/output error")
            return real(fd, data, offset)

        monkeypatch.setattr(os, "pwrite", failing)
    with pytest.raises(OSError):
        replace_file(str(path), migrated().encode(), expected=SPEC.encode())
    assert path.read_text() == (tmp_path / "other_name").read_text() == SPEC


def _xattrs_supported(directory: Path) -> bool:
    probe = directory / "probe"
    probe.write_bytes(b"")
    try:
        os.setxattr(probe, "user.est2tpu", b"1")
        return True
    except (AttributeError, OSError):
        return False
    finally:
        probe.unlink()


def test_extended_attributes_are_kept(tmp_path):
    if not _xattrs_supported(tmp_path):
        pytest.skip("no user extended attributes here")
    write(tmp_path, {"m.py": SPEC})
    os.setxattr(tmp_path / "m.py", "user.origin", b"checked out by hand")
    assert run_cli("migrate", "m.py", cwd=tmp_path).code == 0
    assert (tmp_path / "m.py").read_text() == migrated()
    assert os.listxattr(tmp_path / "m.py") == ["user.origin"]
    assert os.getxattr(tmp_path / "m.py", "user.origin") == b"checked out by hand"


def test_an_attribute_that_cannot_be_kept_is_refused(tmp_path, monkeypatch):
    if not _xattrs_supported(tmp_path):
        pytest.skip("no user extended attributes here")
    path = tmp_path / "m.py"
    path.write_text(SPEC)
    os.setxattr(path, "user.origin", b"x")

    def refused(*args):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "setxattr", refused)
    with pytest.raises(NotReplaced, match="cannot keep its extended attribute user.origin"):
        replace_file(str(path), b"new", expected=SPEC.encode())
    assert path.read_text() == SPEC and temporaries(tmp_path) == []


@pytest.mark.parametrize("length", [234, 255])
def test_names_up_to_the_file_system_limit_are_migrated_in_place(tmp_path, length):
    name = "m" * (length - 3) + ".py"
    write(tmp_path, {name: SPEC})
    result = run_cli("migrate", name, cwd=tmp_path)
    assert result.code == 0, result.err
    assert (tmp_path / name).read_text() == migrated()
    assert temporaries(tmp_path) == []


# --------------------------------------------------------------------------- replacing a file: faults


SIGNAL_IN_THE_WRITE = """
    import os, signal, tempfile

    # Python's own SIGINT handling, as under a terminal (a job started in the background by a
    # shell without job control inherits SIGINT ignored, which est2tpu leaves alone).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    real = tempfile.mkstemp

    def mkstemp(*args, **kwargs):  # the temporary file exists from here on
        created = real(*args, **kwargs)
        os.kill(os.getpid(), signal.{name})
        return created

    tempfile.mkstemp = mkstemp
"""


@pytest.mark.parametrize("name, code", [("SIGTERM", -signal.SIGTERM), ("SIGHUP", -signal.SIGHUP), ("SIGINT", 130)])
def test_a_signal_during_the_write_leaves_no_temporary_file(tmp_path, name, code):
    """The signal acts once the file is replaced: it is migrated whole, and no
    temporary file is left (a signal before the write leaves the file as it was)."""
    write(tmp_path, {"m.py": SPEC})
    proc = drive(tmp_path, SIGNAL_IN_THE_WRITE.format(name=name), "migrate", "m.py")
    assert proc.returncode == code, proc.stderr
    assert temporaries(tmp_path) == []
    assert (tmp_path / "m.py").read_text() == migrated()


def test_the_new_file_and_its_directory_are_synced_around_the_rename(tmp_path, monkeypatch):
    """After a crash of the machine the file holds its old or its new contents: the new
    file is on disk before the rename, and the rename is on disk after."""
    path = tmp_path / "m.py"
    path.write_bytes(b"old")
    synced = []
    real = os.fsync

    def fsync(fd):
        target = os.readlink(f"/proc/self/fd/{fd}")
        kind = "directory" if os.path.isdir(target) else Path(target).read_bytes()
        synced.append((kind, path.read_bytes()))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    replace_file(str(path), b"new", expected=b"old")
    assert (b"new", b"old") in synced  # the new contents, synced while the file still held the old ones
    assert synced[-1] == ("directory", b"new")  # the directory, synced after the rename


def test_a_run_syncs_each_directory_once_after_its_renames(tmp_path, monkeypatch):
    """A directory fsync costs milliseconds: the CLI makes one per directory, at the end."""
    write(tmp_path, {"a/m.py": SPEC, "a/n.py": SPEC, "b/m.py": SPEC})
    synced = []
    real = os.fsync

    def fsync(fd):
        target = os.readlink(f"/proc/self/fd/{fd}")
        if os.path.isdir(target):
            synced.append((target, sorted(p.read_text() == migrated() for p in tmp_path.glob("*/*.py"))))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    assert run_cli("migrate", ".", cwd=tmp_path).code == 0
    assert sorted(synced) == [(str(tmp_path / d), [True, True, True]) for d in "ab"]


@pytest.mark.parametrize("edit", ["in place", "by a rename"])
def test_an_edit_after_the_last_check_is_kept_and_reported(tmp_path, monkeypatch, edit):
    """An editor saves the file just after the last "changed on disk" comparison (the
    hook), before the rename: the edit is swapped back and the write is an error."""
    path = tmp_path / "m.py"
    path.write_bytes(b"old")
    real = replace.read_bytes
    calls = []

    def read_then_edit(name):
        data = real(name)
        calls.append(name)
        if len(calls) == 1:
            if edit == "in place":
                path.write_bytes(b"edited")
            else:
                (tmp_path / "m.py.swp").write_bytes(b"edited")
                os.replace(tmp_path / "m.py.swp", path)
        return data

    monkeypatch.setattr(replace, "read_bytes", read_then_edit)
    if replace._renameat2() is None:
        pytest.skip("no renameat2 here: only the check before the rename")
    with pytest.raises(ChangedOnDisk, match="the edit is kept"):
        replace_file(str(path), b"new", expected=b"old")
    assert path.read_bytes() == b"edited"
    assert temporaries(tmp_path) == []


def test_a_file_still_changed_before_the_last_check_is_left_alone(tmp_path):
    path = tmp_path / "m.py"
    path.write_bytes(b"edited")
    with pytest.raises(ChangedOnDisk, match="left untouched"):
        replace_file(str(path), b"new", expected=b"old")
    assert path.read_bytes() == b"edited" and temporaries(tmp_path) == []


@pytest.mark.skipif(not hasattr(os, "chown") or os.geteuid() != 0, reason="gives a file another group: needs root")
def test_mode_bits_are_set_after_the_group(tmp_path):
    """The new file gets the old one's group first: changing it clears a set-group-ID bit."""
    path = tmp_path / "m.py"
    path.write_bytes(b"old")
    os.chown(path, os.getuid(), 4242)
    path.chmod(0o2755)
    replace_file(str(path), b"new", expected=b"old")
    st = path.stat()
    assert (stat.S_IMODE(st.st_mode), st.st_gid, path.read_bytes()) == (0o2755, 4242, b"new")
