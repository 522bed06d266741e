"""Errors of the user's machine, not of fbsim: named with their path and cause, exit 2.

A read-only folder, a full disk (or a file size limit), an output folder that cannot
be made, a closed pipe: never "internal error ... please report it", never a
traceback, never a half-written results folder.
"""

from __future__ import annotations

import errno
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from sim.results import atomic

from .test_cli import run_cli

ROOT = Path(__file__).resolve().parents[1]
QUICK = ("--reps", "1", "--workers", "1", "--quiet", "--no-plots")


def quick_run(mini_file: Path, out: Path | str, *more: str) -> tuple[int, str, str]:
    return run_cli("run", str(mini_file), *QUICK, "--out", str(out), *more)


def assert_environment_error(code: int, err: str, *expected: str) -> None:
    assert code == 2, err
    assert "internal error" not in err and "please report" not in err and "Traceback" not in err
    last = err.splitlines()[-1]  # after the warnings of the overloaded mini scenario
    assert last.startswith("error: "), err
    assert all(line.startswith("warning: ") for line in err.splitlines()[:-1]), err
    for text in expected:
        assert text in last, err


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()
                  if p.name.endswith((".partial", ".old", ".incomplete")))


def test_a_read_only_folder_is_named_with_its_cause(mini_file, tmp_path, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        if os.access(ro, os.W_OK):  # root ignores permissions: the system's refusal, simulated
            import tempfile

            def refuse(*_args, dir=None, **_kw):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), dir)

            real_mkdir = Path.mkdir

            def refuse_inside(self, *args, **kw):  # the resumable run's NAME.incomplete
                if self.parent == ro:
                    raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(ro))
                return real_mkdir(self, *args, **kw)

            monkeypatch.setattr(tempfile, "mkdtemp", refuse)
            monkeypatch.setattr(Path, "mkdir", refuse_inside)
        code, _, err = quick_run(mini_file, ro / "res")
    finally:
        ro.chmod(0o755)
    assert_environment_error(code, err, f"cannot write results to {ro / 'res'}", str(ro),
                             "Permission denied")
    assert list(ro.iterdir()) == []


def test_a_full_disk_names_the_file_and_leaves_no_staging_folder(mini_file, tmp_path,
                                                                 monkeypatch):
    real = atomic.write_atomic

    def disk_full_for_tables(path, write, binary=False):
        if "tables" in path.parts:
            # What a write to a full disk raises: no file name of its own.
            real(path, lambda f: (_ for _ in ()).throw(OSError(errno.ENOSPC,
                                                              os.strerror(errno.ENOSPC))), binary)
        real(path, write, binary)

    monkeypatch.setattr("sim.results.tables.write_atomic", disk_full_for_tables)
    code, _, err = quick_run(mini_file, tmp_path / "res")
    assert_environment_error(code, err, f"cannot write results to {tmp_path / 'res'}: ",
                             "res.incomplete/tables/", "No space left on device")
    assert not (tmp_path / "res").exists() and leftovers(tmp_path) == []


def test_a_file_size_limit_in_a_real_process_is_an_environment_error(mini_file, tmp_path):
    # RLIMIT_FSIZE makes the kernel refuse writes past 20 kB (EFBIG): a real system error,
    # raised in a real fbsim process, whatever the user's privileges.
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    done = subprocess.run([sys.executable, "-m", "sim", "run", str(mini_file), *QUICK,
                           "--out", str(tmp_path / "res")], cwd=ROOT, preexec_fn=limit,
                          capture_output=True, text=True, timeout=120, check=False)
    assert_environment_error(done.returncode, done.stderr, f"cannot write results to {tmp_path}",
                             "File too large")
    assert not (tmp_path / "res").exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("make_out", [
    lambda tmp: tmp / "notes.txt" / "res",        # below a file
    lambda tmp: tmp / ("x" * 300) / "res",       # a name longer than the system allows
])
def test_an_out_folder_that_cannot_be_made_is_named(mini_file, tmp_path, make_out):
    (tmp_path / "notes.txt").write_text("mine")
    out = make_out(tmp_path)
    code, _, err = quick_run(mini_file, out)
    assert code == 2 and "Traceback" not in err and "internal error" not in err, err
    assert "notes.txt" in err or "File name too long" in err, err
    assert (tmp_path / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("out", [".", "..", "/", "./"])
def test_out_naming_the_current_folder_or_above_is_refused(mini_file, tmp_path, monkeypatch, out):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    code, _, err = quick_run(mini_file, out)
    assert code == 2 and "is the current folder or holds it" in err, err
    assert list(work.iterdir()) == []


def test_a_symlinked_parent_folder_is_written_through(mini_file, tmp_path):
    real = tmp_path / "scratch"
    real.mkdir()
    (tmp_path / "results").symlink_to(real)
    code, _, err = quick_run(mini_file, tmp_path / "results" / "res")
    assert code == 0, err
    assert (real / "res" / "summary.json").is_file() and leftovers(real) == []


def test_a_closed_output_pipe_ends_fbsim_quietly(mini_file):
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone, as `fbsim validate ... | head -0` would
    try:
        done = subprocess.run([sys.executable, "-m", "sim", "validate", str(mini_file)],
                              cwd=ROOT, stdout=write_end, stderr=subprocess.PIPE, text=True,
                              timeout=60, check=False)
    finally:
        os.close(write_end)
    assert done.returncode == 141 and done.stderr == ""


def test_run_piped_into_head_writes_its_results_and_ends_quietly(mini_file, tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "sim", "run", str(mini_file), *QUICK,
                             "--out", str(tmp_path / "res")], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()  # `| head -1`
    proc.stdout.close()
    err = proc.stderr.read()
    proc.stderr.close()
    proc.wait(timeout=120)
    assert first.startswith("fbsim run: mini")
    assert proc.returncode in (0, 141) and "Traceback" not in err and "rror" not in err, err
    assert (tmp_path / "res" / "summary.json").is_file()


def test_run_warns_of_an_overloaded_stage_before_it_runs(mini_data, tmp_path):
    import yaml

    mini_data["staff"]["examiners"]["headcount"] = 1
    mini_data["run"]["horizon_days"] = 60
    path = tmp_path / "over.yaml"
    path.write_text(yaml.safe_dump(mini_data))
    code, out, err = run_cli("run", str(path), *QUICK, "--tables", "none",
                             "--out", str(tmp_path / "res"))
    assert code == 0, err
    first = err.splitlines()[0]
    assert first.startswith("warning: stage lab_examination (pool examiners) is overloaded from "
                            "the start (rho "), err
    assert "(pool enforcement)" not in err  # only the overloaded stages
    assert out.startswith("fbsim run: mini")
