"""fbsim's performance benchmarks, against the shared peers in ``../shared/bench``.

  python bench/run_bench.py all                 # every section (about an hour on 2 cores)
  python bench/run_bench.py one baseline        # chosen sections
  python bench/run_bench.py all --quick         # smoke run: fewer rounds and replications

Sections (each appends JSON lines to ``bench/results/<section>.jsonl``; ``report``
prints the markdown tables of ``RESULTS.md`` from them):

long
    The same four-way comparison (SimPy, Ciw, fbsim's model, ``fbsim run``) with a
    horizon five times longer, where fixed start-up costs weigh less.
one
    The reference model, one replication, whole process, in paired rounds: plain
    SimPy, Ciw, fbsim's model with its monitoring and tables (``bench/ref_fbsim.py``)
    and ``fbsim run`` (summary only, then tables and plots as well). Each round runs
    every command once in a rotated order, after one unrecorded warm-up round; ratios
    are per-round ratios (the same round, the same machine state), then the median.
baseline
    The London baseline (5-year horizon), one replication: in-process events per
    second and whole-process wall time (``bench/one_rep.py`` and ``fbsim run``),
    paired with plain SimPy on the reference model.
scaling
    In-process time against the simulated horizon and against the referral rate
    (rate, head-counts and backlog times k: the same utilisation), for the reference
    model and the baseline; the fitted log-log exponent.
parallel
    ``fbsim run --workers 1`` against ``--workers 2`` (local processes), paired rounds.
memory
    Peak RSS of ``fbsim run`` for 10 and for 1,000 replications of the baseline.
accuracy
    Many replications of the reference model through fbsim: means against the
    analytic answer (``../shared/bench/analytic.py``) and the 2,000-replication heap
    estimate for the per-class stage-2 figures that have no closed form.

Every process is timed with ``os.wait4`` (wall clock around it; CPU = user + system of
the process and its waited-for children; ``ru_maxrss`` = peak RSS of the largest single
process). A sampler also sums the RSS of the whole process group every 50 ms
(``tree_peak_mib``), which is what matters with worker processes. The load average
before and after each section is recorded: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
SHARED = (ROOT / ".." / "shared" / "bench").resolve()
RESULTS = BENCH / "results"
PY = sys.executable
REF = BENCH / "reference.yaml"
BASELINE = ROOT / "scenarios" / "met-baseline.yaml"


#: Children run as after a normal install: byte-code caches written and used (here in a
#: private folder, so that neither the checkout nor ../shared is written to), whatever
#: PYTHONDONTWRITEBYTECODE says in the caller's environment. One warm-up round fills it.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
CHILD_ENV["PYTHONPYCACHEPREFIX"] = os.path.join(tempfile.gettempdir(), "fbsim-bench-pycache")


def fbsim_cmd() -> list[str]:
    exe = Path(PY).with_name("fbsim")
    return [str(exe)] if exe.exists() else [PY, "-m", "sim"]


# ----------------------------------------------------------------------------- timing
def _tree_rss_kib(pgid: int) -> int:
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.getpgid(int(entry)) != pgid:
                continue
            with open(f"/proc/{entry}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except (OSError, ProcessLookupError):
            continue
    return total


def run_cmd(cmd: list[str], cwd: Path | None = None, sample_tree: bool = False,
            timeout: float = 7200.0, keep_inner: bool = False) -> dict:
    """Run ``cmd`` once; wall, CPU, peak RSS and (if it prints JSON) its own figures."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True, env=CHILD_ENV)
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.05):
            peak[0] = max(peak[0], _tree_rss_kib(p.pid))

    sampler = threading.Thread(target=sample, daemon=True) if sample_tree else None
    if sampler:
        sampler.start()
    out_lines: list[str] = []
    err_text: list[str] = []
    t_err = threading.Thread(target=lambda: err_text.append(p.stderr.read()), daemon=True)
    t_err.start()
    deadline = time.monotonic() + timeout
    for line in p.stdout:  # type: ignore[union-attr]
        out_lines.append(line)
        if time.monotonic() > deadline:
            os.killpg(p.pid, signal.SIGKILL)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    stop.set()
    if sampler:
        sampler.join()
    t_err.join()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"command failed ({code}): {' '.join(map(str, cmd))}\n"
                           + "".join(err_text)[-2000:])
    inner: dict = {}
    for line in reversed(out_lines):
        line = line.strip()
        if line.startswith("{"):
            try:
                inner = json.loads(line)
                break
            except ValueError:
                pass
    res = {"wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime, "peak_mib": ru.ru_maxrss / 1024.0}
    if sample_tree:
        res["tree_peak_mib"] = peak[0] / 1024.0
    for key in ("sim_seconds", "events_per_s", "events", "sim_cpu_seconds", "completed"):
        if key in inner:
            res["inner_" + key] = inner[key]
    if keep_inner:
        res["inner"] = inner
    return res


def load_info() -> dict:
    busy = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if fields[0] == "R":
                    busy.append(int(entry))
            except OSError:
                continue
    return {"loadavg": os.getloadavg(), "running_now": len(busy)}


def machine() -> dict:
    # Versions come from a child: this parent stays small, because a child's ru_maxrss
    # includes the memory of the parent it was forked from until it calls exec.
    versions = json.loads(subprocess.run(
        [PY, "-c", "import json, numpy, simpy, ciw; print(json.dumps({'simpy': simpy.__version__, "
         "'ciw': ciw.__version__, 'numpy': numpy.__version__}))"],
        capture_output=True, text=True, check=True).stdout)
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            mem = f.readline().split(":", 1)[1].strip()
    except OSError:
        pass
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True, check=False).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "sim"], cwd=ROOT, capture_output=True,
                           text=True, check=False).stdout.strip() != ""
    return {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "python": platform.python_version(),
            "platform": platform.platform(), "cpu": cpu, "cpus": os.cpu_count(),
            "memory": mem, **versions, "commit": commit + ("+dirty" if dirty else "")}


def log(section: str, record: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(RESULTS / f"{section}.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")


def paired_rounds(section: str, commands: dict[str, tuple[list[str], Path | None]], rounds: int,
                  tag: dict | None = None, sample_tree: bool = False) -> dict[str, list[dict]]:
    """Run every command once per round (rotated order), after one warm-up round."""
    names = list(commands)
    out: dict[str, list[dict]] = {n: [] for n in names}
    for r in range(rounds + 1):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            cmd, cwd = commands[name]
            res = run_cmd(cmd, cwd, sample_tree=sample_tree)
            if r == 0:
                continue  # warm-up: caches, .pyc files
            res.update({"label": name, "round": r, **(tag or {})})
            out[name].append(res)
            log(section, res)
            print(f"  [{section}] round {r} {name}: wall {res['wall_s']:.3f} s, "
                  f"cpu {res['cpu_s']:.3f} s, peak {res['peak_mib']:.0f} MiB", flush=True)
    return out


def section_header(section: str, quick: bool) -> None:
    log(section, {"label": "_meta", "quick": quick, **machine(), **load_info()})


# ----------------------------------------------------------------------------- sections
def sec_one(quick: bool) -> None:
    section_header("one", quick)
    tmp = Path(tempfile.mkdtemp(prefix="fbsim-bench-"))
    fb = fbsim_cmd()
    common = ["--reps", "1", "--seed", "1", "--workers", "1", "--quiet"]
    commands = {
        "simpy": ([PY, "sim_simpy.py", "--seed", "1"], SHARED),
        "ciw": ([PY, "sim_ciw.py", "--seed", "1"], SHARED),
        "fbsim-model": ([PY, str(BENCH / "ref_fbsim.py"), "--seed", "1"], ROOT),
        "fbsim-run-summary": ([*fb, "run", str(REF), *common, "--out", str(tmp / "a"),
                               "--tables", "none", "--no-plots"], ROOT),
        "fbsim-run-tables": ([*fb, "run", str(REF), *common, "--out", str(tmp / "b"),
                              "--no-plots"], ROOT),
        "fbsim-run-full": ([*fb, "run", str(REF), *common, "--out", str(tmp / "c")], ROOT),
    }
    paired_rounds("one", commands, 3 if quick else 7)
    # import cost alone
    imports = {
        "import-simpy": ([PY, "-c", "import simpy"], ROOT),
        "import-ciw": ([PY, "-c", "import ciw"], ROOT),
        "import-fbsim-model": ([PY, "-c", "import sim.config, sim.model.replication"], ROOT),
        "import-fbsim-cli-run": ([PY, "-c", "import sim.cli, sim.experiment, sim.results.summary, "
                                  "sim.results.tables, sim.plots"], ROOT),
        "python-startup": ([PY, "-c", "pass"], ROOT),
    }
    paired_rounds("one", imports, 3 if quick else 5)
    shutil.rmtree(tmp, ignore_errors=True)
    log("one", {"label": "_end", **load_info()})


#: Simulated days after the warm-up in the long-horizon section (5 x the reference).
LONG_HORIZON_DAYS = 100_000


def sec_long(quick: bool) -> None:
    section_header("long", quick)
    tmp = Path(tempfile.mkdtemp(prefix="fbsim-bench-"))
    fb = fbsim_cmd()
    scenario = tmp / "reference-long.yaml"
    scenario.write_text(f"extends: {REF}\nname: bench-reference-long\n"
                        f"run: {{horizon_days: {LONG_HORIZON_DAYS}}}\n")
    horizon = ["--seed", "1", "--horizon", str(LONG_HORIZON_DAYS)]
    commands = {
        "simpy": ([PY, "sim_simpy.py", *horizon], SHARED),
        "ciw": ([PY, "sim_ciw.py", *horizon], SHARED),
        "fbsim-model": ([PY, str(BENCH / "ref_fbsim.py"), *horizon], ROOT),
        "fbsim-run-summary": ([*fb, "run", str(scenario), "--reps", "1", "--seed", "1",
                               "--workers", "1", "--quiet", "--out", str(tmp / "a"),
                               "--tables", "none", "--no-plots"], ROOT),
    }
    paired_rounds("long", commands, 2 if quick else 3)
    shutil.rmtree(tmp, ignore_errors=True)
    log("long", {"label": "_end", **load_info()})


def sec_baseline(quick: bool) -> None:
    section_header("baseline", quick)
    tmp = Path(tempfile.mkdtemp(prefix="fbsim-bench-"))
    fb = fbsim_cmd()
    common = ["--reps", "1", "--seed", "1", "--workers", "1", "--quiet"]
    commands = {
        "simpy-reference": ([PY, "sim_simpy.py", "--seed", "1"], SHARED),
        "fbsim-baseline-model": ([PY, str(BENCH / "one_rep.py"), str(BASELINE)], ROOT),
        "fbsim-baseline-run-summary": ([*fb, "run", str(BASELINE), *common, "--out",
                                        str(tmp / "a"), "--tables", "none", "--no-plots"], ROOT),
        "fbsim-baseline-run-full": ([*fb, "run", str(BASELINE), *common, "--out", str(tmp / "b")],
                                    ROOT),
    }
    paired_rounds("baseline", commands, 2 if quick else 5)
    shutil.rmtree(tmp, ignore_errors=True)
    log("baseline", {"label": "_end", **load_info()})


def sec_scaling(quick: bool) -> None:
    section_header("scaling", quick)
    reps = 2 if quick else 5
    # reference model: measured horizon (the 2,000-day warm-up is added) and rate scale
    horizons = [5000, 10000, 20000, 40000, 80000] if not quick else [10000, 20000, 40000]
    for h in horizons:
        cmds = {f"ref-horizon-{h}": ([PY, str(BENCH / "ref_fbsim.py"), "--horizon", str(h)], ROOT)}
        paired_rounds("scaling", cmds, reps, {"kind": "ref-horizon", "x": h + 2000.0})
    for k in ([0.5, 1, 2, 4, 8] if not quick else [1, 2, 4]):
        cmds = {f"ref-rate-{k}": ([PY, str(BENCH / "ref_fbsim.py"), "--rate-scale", str(k)], ROOT)}
        paired_rounds("scaling", cmds, reps, {"kind": "ref-rate", "x": float(k)})
    # London baseline: horizon in days (backlog at t=0 included) and rate scale
    for d in ([365.25, 730.5, 1826.25, 3652.5] if not quick else [365.25, 1826.25]):
        cmds = {f"baseline-horizon-{d}": (
            [PY, str(BENCH / "one_rep.py"), str(BASELINE), "--horizon-days", str(d)], ROOT)}
        paired_rounds("scaling", cmds, max(2, reps - 2), {"kind": "baseline-horizon", "x": d})
    for k in ([0.5, 1, 2, 4] if not quick else [1, 2]):
        cmds = {f"baseline-rate-{k}": (
            [PY, str(BENCH / "one_rep.py"), str(BASELINE), "--rate-scale", str(k),
             "--horizon-days", "730.5"], ROOT)}
        paired_rounds("scaling", cmds, max(2, reps - 2), {"kind": "baseline-rate", "x": float(k)})
    log("scaling", {"label": "_end", **load_info()})


def sec_parallel(quick: bool) -> None:
    section_header("parallel", quick)
    tmp = Path(tempfile.mkdtemp(prefix="fbsim-bench-"))
    fb = fbsim_cmd()
    for scen, reps in ((BASELINE, 4 if quick else 8), (REF, 8 if quick else 20)):
        common = [str(scen), "--reps", str(reps), "--seed", "1", "--quiet", "--tables", "none",
                  "--no-plots"]
        commands = {
            f"{scen.stem}-workers-1": ([*fb, "run", *common, "--workers", "1", "--out",
                                        str(tmp / "w1")], ROOT),
            f"{scen.stem}-workers-2": ([*fb, "run", *common, "--workers", "2", "--out",
                                        str(tmp / "w2")], ROOT),
        }
        paired_rounds("parallel", commands, 2 if quick else 5, {"reps": reps}, sample_tree=True)
    shutil.rmtree(tmp, ignore_errors=True)
    log("parallel", {"label": "_end", **load_info()})


def sec_memory(quick: bool) -> None:
    section_header("memory", quick)
    tmp = Path(tempfile.mkdtemp(prefix="fbsim-bench-"))
    fb = fbsim_cmd()
    counts = [10, 100] if quick else [10, 1000]
    for reps in counts:
        for tables in ("none",):
            cmd = [*fb, "run", str(BASELINE), "--reps", str(reps), "--seed", "1", "--workers", "2",
                   "--quiet", "--tables", tables, "--no-plots", "--out", str(tmp / f"m{reps}")]
            res = run_cmd(cmd, ROOT, sample_tree=True)
            res.update({"label": f"baseline-reps-{reps}", "reps": reps, "tables": tables})
            log("memory", res)
            print(f"  [memory] {reps} reps: wall {res['wall_s']:.1f} s, peak process "
                  f"{res['peak_mib']:.0f} MiB, peak tree {res['tree_peak_mib']:.0f} MiB", flush=True)
    # in-process: run_replication in a loop, RSS after each replication
    cmd = [PY, str(BENCH / "memory_loop.py"), str(BASELINE), "--reps", "6" if quick else "30"]
    res = run_cmd(cmd, ROOT, keep_inner=True)
    res.update({"label": "run_replication-loop"})
    log("memory", res)
    shutil.rmtree(tmp, ignore_errors=True)
    log("memory", {"label": "_end", **load_info()})


def sec_accuracy(quick: bool) -> None:
    section_header("accuracy", quick)
    reps = 20 if quick else 400
    cmd = [PY, str(BENCH / "ref_accuracy.py"), "--reps", str(reps), "--procs", "2", "--seed0",
           "1000"]
    res = run_cmd(cmd, ROOT)
    log("accuracy", {"label": "fbsim-reference", **res})
    acc = json.loads((RESULTS / "accuracy.json").read_text())
    log("accuracy", {"label": "stats", "reps": acc["reps"], "stats": acc["stats"]})
    log("accuracy", {"label": "_end", **load_info()})


SECTIONS = {"one": sec_one, "long": sec_long, "baseline": sec_baseline, "scaling": sec_scaling,
            "parallel": sec_parallel, "memory": sec_memory, "accuracy": sec_accuracy}


# ----------------------------------------------------------------------------- report
def _read(section: str) -> list[dict]:
    path = RESULTS / f"{section}.jsonl"
    if not path.exists():
        return []
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    # keep only the last run of the section (from its last _meta line)
    last = max((i for i, r in enumerate(rows) if r.get("label") == "_meta"), default=0)
    return rows[last:]


def _med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else math.nan


def _rng(xs: list[float], fmt: str = "{:.3f}") -> str:
    if not xs:
        return "n/a"
    return f"{fmt.format(_med(xs))} ({fmt.format(min(xs))}–{fmt.format(max(xs))})"


def _by_label(rows: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in rows:
        if not r["label"].startswith("_"):
            out.setdefault(r["label"], []).append(r)
    return out


def _ratios(a: list[dict], b: list[dict], key: str = "wall_s") -> list[float]:
    rb = {r["round"]: r[key] for r in b}
    return [r[key] / rb[r["round"]] for r in a if r["round"] in rb]


def fit_exponent(xs: list[float], ys: list[float]) -> float:
    lx = [math.log(x) for x in xs]
    ly = [math.log(y) for y in ys]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / sum(
        (a - mx) ** 2 for a in lx)


def _one_replication_table(rows: list[dict], title: str) -> None:
    meta = rows[0]
    print(f"## {title} ({meta['date']}, load {meta['loadavg'][0]:.2f} at start)\n")
    by = _by_label(rows)
    print("| command | wall s, median (min–max) | cpu s | in-process s | events/s "
          "(in-process) | wall ratio vs SimPy | wall ratio vs Ciw | cpu ratio vs SimPy | "
          "peak MiB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, rs in by.items():
        if label.startswith("import") or label == "python-startup":
            continue
        wall = [r["wall_s"] for r in rs]
        cpu = [r["cpu_s"] for r in rs]
        inner = [r["inner_sim_seconds"] for r in rs if "inner_sim_seconds" in r]
        eps = [r["inner_events_per_s"] for r in rs if "inner_events_per_s" in r]
        vs_simpy = _ratios(rs, by.get("simpy", []))
        vs_ciw = _ratios(rs, by.get("ciw", []))
        cpu_simpy = _ratios(rs, by.get("simpy", []), "cpu_s")
        print(f"| {label} | {_rng(wall)} | {_med(cpu):.3f} | "
              f"{_med(inner):.3f} | {_med(eps):,.0f} | {_rng(vs_simpy, '{:.2f}')} | "
              f"{_rng(vs_ciw, '{:.2f}')} | {_med(cpu_simpy):.2f} | "
              f"{_med([r['peak_mib'] for r in rs]):.0f} |")
    imports = {k: v for k, v in by.items() if k.startswith("import") or k == "python-startup"}
    if imports:
        print("\n| import only | wall s, median (min–max) |\n|---|---|")
        for label, rs in imports.items():
            print(f"| {label} | {_rng([r['wall_s'] for r in rs])} |")
    print()


def report() -> None:
    for section, title in (("one", "one replication of the reference model"),
                           ("long", f"the reference model, {LONG_HORIZON_DAYS:,} days after "
                                    "the warm-up")):
        rows = _read(section)
        if rows:
            _one_replication_table(rows, title)
    base = _read("baseline")
    if base:
        print(f"## London baseline, one replication ({base[0]['date']})\n")
        by = _by_label(base)
        print("| command | wall s, median (min–max) | cpu s | in-process s | events | events/s "
              "(in-process) | events/s ratio vs SimPy (same round) | peak MiB |")
        print("|---|---|---|---|---|---|---|---|")
        simpy_rows = by.get("simpy-reference", [])
        for label, rs in by.items():
            eps = [r["inner_events_per_s"] for r in rs if "inner_events_per_s" in r]
            ratio = _ratios(rs, simpy_rows, "inner_events_per_s") if eps else []
            print(f"| {label} | {_rng([r['wall_s'] for r in rs])} | "
                  f"{_med([r['cpu_s'] for r in rs]):.3f} | "
                  f"{_med([r.get('inner_sim_seconds', math.nan) for r in rs]):.3f} | "
                  f"{_med([r.get('inner_events', math.nan) for r in rs]):,.0f} | "
                  f"{_med(eps):,.0f} | {_rng(ratio, '{:.2f}')} | "
                  f"{_med([r['peak_mib'] for r in rs]):.0f} |")
        print()
    sc = _read("scaling")
    if sc:
        print(f"## scaling ({sc[0]['date']})\n")
        kinds: dict[str, dict[float, list[dict]]] = {}
        for r in sc:
            if r["label"].startswith("_"):
                continue
            kinds.setdefault(r["kind"], {}).setdefault(r["x"], []).append(r)
        print("| series | x | in-process s, median | cpu s (in-process) | events | events/s |")
        print("|---|---|---|---|---|---|")
        for kind, pts in kinds.items():
            for x, rs in sorted(pts.items()):
                print(f"| {kind} | {x:g} | {_med([r['inner_sim_seconds'] for r in rs]):.3f} | "
                      f"{_med([r.get('inner_sim_cpu_seconds', math.nan) for r in rs]):.3f} | "
                      f"{_med([r['inner_events'] for r in rs]):,.0f} | "
                      f"{_med([r['inner_events_per_s'] for r in rs]):,.0f} |")
        print("\n| series | fitted exponent, wall (in-process) | fitted exponent, cpu "
              "| events exponent |\n|---|---|---|---|")
        for kind, pts in kinds.items():
            xs = sorted(pts)
            wall = [_med([r["inner_sim_seconds"] for r in pts[x]]) for x in xs]
            ev = [_med([r["inner_events"] for r in pts[x]]) for x in xs]
            cpu = [_med([r.get("inner_sim_cpu_seconds", math.nan) for r in pts[x]]) for x in xs]
            cpu_fit = fit_exponent(xs, cpu) if all(c == c for c in cpu) else math.nan
            print(f"| {kind} | {fit_exponent(xs, wall):.3f} | {cpu_fit:.3f} | "
                  f"{fit_exponent(xs, ev):.3f} |")
        print()
    par = _read("parallel")
    if par:
        print(f"## parallel replications ({par[0]['date']})\n")
        by = _by_label(par)
        print("| command | reps | wall s, median (min–max) | cpu s | tree peak MiB | "
              "efficiency T1/(2 T2), per round |")
        print("|---|---|---|---|---|---|")
        for label, rs in by.items():
            eff = ""
            if label.endswith("workers-2"):
                w1 = by.get(label.replace("workers-2", "workers-1"), [])
                e = [1.0 / (2.0 * x) for x in _ratios(rs, w1)]
                eff = _rng(e, "{:.2f}")
            print(f"| {label} | {rs[0]['reps']} | {_rng([r['wall_s'] for r in rs])} | "
                  f"{_med([r['cpu_s'] for r in rs]):.2f} | "
                  f"{_med([r['tree_peak_mib'] for r in rs]):.0f} | {eff} |")
        print()
    mem = _read("memory")
    if mem:
        print(f"## memory ({mem[0]['date']})\n")
        print("| run | wall s | peak RSS, largest process (MiB) | peak RSS, whole process tree (MiB) |")
        print("|---|---|---|---|")
        for r in mem:
            if r["label"].startswith("_") or "reps" not in r:
                continue
            print(f"| {r['label']} | {r['wall_s']:.1f} | {r['peak_mib']:.0f} | "
                  f"{r['tree_peak_mib']:.0f} |")
        for r in mem:
            if r["label"] == "run_replication-loop" and "inner" in r:
                inner = r["inner"]
                print(f"\nrun_replication in a loop, one process, {inner['reps']} replications: RSS "
                      f"after each (MiB) {inner['rss_mib']}; peak {inner['peak_mib']:.0f} MiB; "
                      f"growth 2nd to last {inner['growth_mib_2nd_to_last']:+.1f} MiB")
        print()
    acc = _read("accuracy")
    stats = next((r for r in acc if r.get("label") == "stats"), None)
    if stats:
        print(f"## accuracy, {stats['reps']} replications of the reference model "
              f"({acc[0]['date']})\n")
        print("| class | measure | fbsim mean ± 95% CI (days) | analytic | dev % ± CI % | "
              "vs heap estimate % ± CI % |\n|---|---|---|---|---|---|")
        for key, ms in stats["stats"].items():
            for m, row in ms.items():
                heap = (f"{row['dev_vs_heap_pct']:+.2f} ± {row['ci95_vs_heap_pct']:.2f}"
                        if "heap" in row else "")
                print(f"| {key} | {m} | {row['mean']:.4f} ± {row['ci95']:.4f} | "
                      f"{row['analytic']:.4f} | {row['dev_pct']:+.2f} ± {row['ci95_pct']:.2f} | "
                      f"{heap} |")
        print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sections", nargs="+", help=f"all, report, or some of {', '.join(SECTIONS)}")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    chosen = list(SECTIONS) if "all" in a.sections else [s for s in a.sections if s != "report"]
    for name in chosen:
        if name not in SECTIONS:
            raise SystemExit(f"unknown section {name!r}")
        print(f"== {name}", flush=True)
        SECTIONS[name](a.quick)
    if "report" in a.sections or "all" in a.sections:
        report()


if __name__ == "__main__":
    main()
