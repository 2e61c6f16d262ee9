"""Figures (what is measured, its unit and target), their values, and RESULTS.md."""
import os
import statistics
import subprocess

from . import ROOT


class Figure:
    def __init__(self, key, scenario, label, unit, target=None, cmp=None, fmt="{:,.0f}", note=""):
        self.key, self.scenario, self.label, self.unit = key, scenario, label, unit
        self.target, self.cmp, self.fmt, self.note = target, cmp, fmt, note
        self.values = []
        self.missing = None  # reason, when not measured

    def verdict(self, v):
        if self.cmp is None:
            return "reported"
        ok = {">=": v >= self.target, "<=": v <= self.target, "==": v == self.target,
              "~1": abs(v - 1.0) <= 0.02}[self.cmp]
        return "met" if ok else "**not met**"

    def target_text(self):
        if self.cmp is None:
            return "–"
        if self.cmp == "~1":
            return "≈ 1 (±2 %)"
        return f"{'≥' if self.cmp == '>=' else '≤' if self.cmp == '<=' else '='} {self.fmt.format(self.target)}"


# Every figure, in RESULTS.md's order (scenario modules add theirs through fig()).
FIGURES = []


def fig(*a, **k):
    f = Figure(*a, **k)
    FIGURES.append(f)
    return f


def figure(key):
    for f in FIGURES:
        if f.key == key:
            return f
    raise KeyError(key)


def machine():
    mem = "?"
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return os.cpu_count(), mem, cpu


def git(*args):
    try:
        return subprocess.run(["git", "-C", ROOT, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True).stdout.strip()
    except OSError:
        return "?"


def fmt_value(f, v):
    return f.fmt.format(v)


def write_report(quick, path, meta, descriptions):
    """Writes RESULTS.md: a header (mode, date, commit, machine, load), one table per scenario
    (headed by descriptions[scenario]) and METHOD."""
    lines = []
    nproc, mem, cpu = machine()
    dirty = " (with uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no") else ""
    lines += ["# Benchmark results", "",
              f"Written by `bench/run{' --quick' if quick else ''}` — do not edit by hand; re-run it.", "",
              "| | |", "|---|---|",
              f"| mode | {'quick (smaller sizes)' if quick else 'full'}, {meta['runs']} run(s) per scenario |",
              f"| date | {meta['date']} |",
              f"| commit | `{git('rev-parse', '--short=12', 'HEAD')}` {git('log', '-1', '--format=%s')}{dirty} |",
              f"| machine | {nproc} CPUs (`nproc` {nproc}), {mem} RAM, {cpu} |",
              f"| load average | {meta['load_start']} at start, {meta['load_end']} at the end |",
              f"| duration | {meta['duration']:.0f} s (build excluded) |", "",
              "Each figure is the median of the runs (min and max beside it); **noisy** = max/min > 1.5. "
              "A verdict compares the median with the target.", ""]
    if meta.get("shared_note"):
        lines += [meta["shared_note"], ""]
    scen = None
    for f in FIGURES:
        if f.scenario != scen:
            scen = f.scenario
            lines += ["", f"## {scen}", "", descriptions.get(scen, ""), "",
                      "| figure | unit | median | min | max | runs | target | verdict | notes |",
                      "|---|---|---:|---:|---:|---:|---|---|---|"]
        if f.values:
            vs = f.values
            med, lo, hi = statistics.median(vs), min(vs), max(vs)
            noisy = (lo > 0 and hi / lo > 1.5) or (lo <= 0 < hi)
            notes = "; ".join(x for x in ["**noisy**" if noisy else "", f.note] if x)
            lines.append(f"| {f.label} | {f.unit} | {fmt_value(f, med)} | {fmt_value(f, lo)} | {fmt_value(f, hi)} | "
                         f"{len(vs)} | {f.target_text()} | {f.verdict(med)} | {notes} |")
        else:
            why = f.missing or "not measured"
            lines.append(f"| {f.label} | {f.unit} | – | – | – | 0 | {f.target_text()} | not measured: {why} | |")
    lines += ["", "## How each figure is measured", "", METHOD, ""]
    with open(path, "w") as fh:
        fh.write("\n".join(lines).replace("\n\n\n", "\n\n") + "\n")


METHOD = """* Every process runs on this machine against 127.0.0.1: fake-esi (tools/fake-esi), PostgreSQL 15 and
  RabbitMQ 3.10 started by `scripts/servers.sh` in a private temp dir on free ports (PostgreSQL: fsync off;
  RabbitMQ: classic queue index v2, the default from 3.13).
* Wall time, CPU time (user + system) and peak RSS of a killreport process come from `wait4()` in
  `kr_bench_tool measure`, which forks it (forked from python, the peak would include python's own RSS:
  Linux carries the high-water mark across execve).
* Targets are the issues': enrichment ≥ 4,000 entities/s per process on RabbitMQ + PostgreSQL and ≥ 5,000/s on
  SQLite, ≤ 0.3 CPU-ms per entity, ≤ 30 MB per process; budget share ≥ 97 %, ≤ 50 requests in any second, no
  420; requests per entity ≈ 1 / 0 / conditional after Expires; ingest ≥ 2,000 killmails/s, and with the
  derived tables ≥ 85 % of the ingest without them (issue 15); scan ≤ 3 s (100k), ≤ 30 s (1M); derive:rebuild
  ≤ 60 s (1M, issue 15); RabbitMQ ≥ 10,000 confirmed publishes/s and ≥ 8,000 consume+ack/s; ESI client ≥ 5,000 req/s;
  fake-esi ≥ 10,000 req/s.
* The machine may be shared with other work: the load average is recorded above, and CPU per entity is
  the steadier figure when wall-clock rates are noisy.
* Raw output of every command: `bench/out/bench.log`; every run's numbers: `bench/out/results.json`."""
