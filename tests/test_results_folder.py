"""fbsim writes results only where it may: never deletes or overwrites a user's files."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml

from sim.cli import main
from sim.results.folder import (
    ResultsFolderError,
    StagedFolder,
    check_writable,
    choose_out,
    foreign_files,
)


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def quick(mini_file: Path, *more: str) -> tuple[int, str, str]:
    return run_cli("run", str(mini_file), "--reps", "1", "--workers", "1", "--quiet",
                   "--no-plots", "--tables", "none", *more)


def test_run_refuses_a_folder_it_did_not_write_and_leaves_it_alone(mini_file, tmp_path):
    docs = tmp_path / "mydocs"
    (docs / "sub").mkdir(parents=True)
    (docs / "thesis.tex").write_text("t")
    code, _, err = quick(mini_file, "--out", str(docs))
    assert code == 2 and "not written by fbsim" in err and "Traceback" not in err
    assert (docs / "thesis.tex").read_text() == "t" and (docs / "sub").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["mydocs", "mini.yaml"])


def test_run_replaces_its_own_folder_but_not_one_a_user_added_a_file_to(mini_file, tmp_path):
    out = tmp_path / "res"
    assert quick(mini_file, "--out", str(out))[0] == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["written_by"] == "fbsim" and "summary.json" in manifest["files"]
    assert foreign_files(out) == []
    assert quick(mini_file, "--out", str(out), "--seed", "9")[0] == 0  # rerun replaces it
    assert json.loads((out / "summary.json").read_text())["seed"] == 9
    (out / "notes.txt").write_text("mine")
    code, _, err = quick(mini_file, "--out", str(out), "--seed", "10")
    assert code == 2 and "notes.txt" in err
    assert (out / "notes.txt").read_text() == "mine"
    assert json.loads((out / "summary.json").read_text())["seed"] == 9
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mini.yaml", "res"]


def test_out_naming_an_existing_file_is_refused_untouched(mini_file, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("keep")
    code, _, err = quick(mini_file, "--out", str(notes))
    assert code == 2 and "not a folder" in err and "internal error" not in err
    assert notes.read_text() == "keep"
    assert not (tmp_path / "notes.txt.old").exists()


def test_default_folder_is_versioned_when_a_user_file_is_in_it(mini_file, tmp_path,
                                                                monkeypatch):
    monkeypatch.chdir(tmp_path)
    mine = tmp_path / "results" / "mini"
    mine.mkdir(parents=True)
    (mine / "draft.md").write_text("d")
    code, _out, err = quick(mini_file)
    assert code == 0, err
    assert "results/mini-2" in err
    assert (mine / "draft.md").read_text() == "d" and sorted(p.name for p in mine.iterdir()) == [
        "draft.md"]
    assert (tmp_path / "results" / "mini-2" / "summary.json").exists()


@pytest.mark.parametrize("name", [".", "../precious", "/tmp/abs", "a/b", "", ".hidden", "x..y"])
def test_scenario_names_that_are_not_plain_folder_names_are_refused(mini_data, tmp_path,
                                                                     monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("k")
    mini_data["name"] = name
    mini_data["run"]["horizon_days"] = 30
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(mini_data))
    code, _, err = run_cli("run", str(path), "--reps", "1", "--workers", "1", "--quiet")
    assert code == 2 and "name" in err and "Traceback" not in err
    assert (precious / "keep.txt").read_text() == "k"
    assert not (tmp_path / "results").exists()


def test_a_file_name_with_spaces_gives_a_safe_scenario_name(mini_data, tmp_path):
    from sim.config import load_scenario

    del mini_data["name"]
    path = tmp_path / "my scenario (v2).yaml"
    path.write_text(yaml.safe_dump(mini_data))
    assert load_scenario(path).name == "my-scenario-v2"


def test_staged_folder_publishes_only_complete_runs(tmp_path):
    out = tmp_path / "run"
    with StagedFolder(out) as stage:
        (stage / "summary.json").write_text(json.dumps({"v": 1}))
    assert json.loads((out / "summary.json").read_text()) == {"v": 1}
    with pytest.raises(KeyboardInterrupt), StagedFolder(out) as stage:
        (stage / "summary.json").write_text(json.dumps({"v": 2}))
        raise KeyboardInterrupt
    assert json.loads((out / "summary.json").read_text()) == {"v": 1}
    with StagedFolder(out) as stage:
        (stage / "summary.json").write_text(json.dumps({"v": 3}))
        (stage / "tables" / "cases").mkdir(parents=True)
        (stage / "tables" / "cases" / "rep-00000.csv").write_text("a\n1\n")
    assert json.loads((out / "summary.json").read_text()) == {"v": 3}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no staging, no .old left


def test_a_file_added_during_the_run_stops_the_publish(tmp_path):
    out = tmp_path / "run"
    with StagedFolder(out) as stage:
        (stage / "summary.json").write_text("{}")
    with pytest.raises(ResultsFolderError), StagedFolder(out) as stage:
        (stage / "summary.json").write_text('{"v": 2}')
        (out / "late.txt").write_text("user")
    assert (out / "late.txt").read_text() == "user"
    assert (out / "summary.json").read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_legacy_fbsim_folders_are_recognised_by_layout(tmp_path):
    old = tmp_path / "old"
    (old / "tables" / "cases").mkdir(parents=True)
    (old / "manifest.json").write_text(json.dumps(
        {"scenario_sha256": "x", "package_version": "0.1.0", "seed": 1, "replications": 1}))
    (old / "summary.json").write_text("{}")
    (old / "tables" / "cases" / "rep-00000.csv").write_text("a\n")
    assert foreign_files(old) == []
    check_writable(old)
    (old / "tables" / "mine.xlsx").write_text("x")
    assert foreign_files(old) == ["tables/mine.xlsx"]
    with pytest.raises(ResultsFolderError):
        check_writable(old)
    assert choose_out(old) == tmp_path / "old-2"


def test_a_symlink_inside_is_never_followed_or_deleted(tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "keep.txt").write_text("k")
    out = tmp_path / "run"
    with StagedFolder(out) as stage:
        (stage / "summary.json").write_text("{}")
    (out / "link").symlink_to(target)
    with pytest.raises(ResultsFolderError):
        check_writable(out)
    assert (target / "keep.txt").read_text() == "k"


def test_a_ctrl_c_while_publishing_waits_until_the_results_are_in_place(mini_file, tmp_path,
                                                                         monkeypatch):
    import os
    import signal

    from sim.results import folder

    real_seal = folder.seal

    def seal_then_ctrl_c(staging, **how):
        real_seal(staging, **how)
        os.kill(os.getpid(), signal.SIGINT)  # a real signal, held back until published

    monkeypatch.setattr(folder, "seal", seal_then_ctrl_c)
    out = tmp_path / "res"
    code, _, err = quick(mini_file, "--out", str(out))
    assert code == 130 and f"the results had already been written to {out}" in err
    assert foreign_files(out) == [] and (out / "summary.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mini.yaml", "res"]


def test_only_staging_folders_of_ended_runs_holding_fbsim_files_are_cleared(tmp_path):
    from sim.results.folder import STAGING_LOCK, remove_stale_staging

    def staging(name: str, *files: str) -> Path:
        path = tmp_path / f".res.{name}.partial"
        for f in files:
            (path / f).parent.mkdir(parents=True, exist_ok=True)
            (path / f).write_text("x")
        return path

    ended = staging("ended", STAGING_LOCK, "tables/cases/rep-00001.csv",
                    "tables/cases/.rep-00002.csv.abc.tmp", "summary.json")
    unlocked = staging("nolock", "tables/cases/rep-00001.csv")
    foreign = staging("foreign", STAGING_LOCK, "tables/cases/rep-00001.csv", "thesis.tex")
    assert remove_stale_staging(tmp_path, "res") == [ended]
    with StagedFolder(tmp_path / "res") as live:  # its lock is held while it runs
        assert remove_stale_staging(tmp_path, "res") == []
        assert live.exists() and (live / STAGING_LOCK).exists()
    assert not ended.exists() and unlocked.exists() and foreign.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [".res.nolock.partial", ".res.foreign.partial", "res"])
    assert (tmp_path / "res" / "manifest.json").is_file()
    assert STAGING_LOCK not in json.loads((tmp_path / "res" / "manifest.json").read_text())["files"]


def test_results_get_the_permissions_of_any_new_file(mini_file, tmp_path):
    import os
    import stat

    old = os.umask(0o027)
    try:
        out = tmp_path / "res"
        assert quick(mini_file, "--out", str(out), "--tables", "all")[0] == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o750  # not the 0o700 of a temporary folder
    for path in out.rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o750 if path.is_dir() else 0o640), path  # not 0o600
