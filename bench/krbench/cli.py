"""bench/run's command line: options, build, servers, the scenario loop, results.json and RESULTS.md."""
import argparse
import datetime
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

from . import ROOT, NotMeasured, log
from .bench import Bench
from .figures import FIGURES, figure, write_report
from .scenarios import BY_NAME, REPORT_ORDER, SCENARIOS

NAMES = [s.NAME for s in SCENARIOS]


def check_packages():
    """Nothing is installed here: report missing packages and point at scripts/install-deps.sh."""
    if not shutil.which("dpkg-query"):
        return
    text = open(os.path.join(ROOT, "scripts", "install-deps.sh")).read()
    m = re.search(r"PKGS=\((.*?)\)", text, re.S)
    if not m:
        return
    missing = []
    for p in m.group(1).split():
        r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", p], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           text=True)
        if "install ok installed" not in r.stdout:
            missing.append(p)
    if missing:
        sys.exit(f"bench/run: missing packages: {' '.join(missing)}\n"
                 f"  install them first: scripts/install-deps.sh (as root), then re-run bench/run")


def main():
    ap = argparse.ArgumentParser(description="Measure every performance figure; write bench/RESULTS.md.")
    ap.add_argument("--quick", action="store_true", help="1 run per scenario, smaller sizes (< 2 min after the build)")
    ap.add_argument("--runs", type=int, help="runs per scenario (default 3; --quick 1)")
    ap.add_argument("--only", help="comma-separated scenarios: " + ",".join(NAMES))
    ap.add_argument("--no-build", action="store_true", help="use the existing build")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "RESULTS.md"), help="report file")
    args = ap.parse_args()
    runs = args.runs or (1 if args.quick else 3)
    only = args.only.split(",") if args.only else NAMES
    for s in only:
        if s not in NAMES:
            ap.error(f"unknown scenario {s} (known: {', '.join(NAMES)})")

    check_packages()
    for sc in REPORT_ORDER:
        sc.define_figures()
    b = Bench(args, only)
    if not args.no_build:
        log(f"building ({os.path.relpath(b.build, ROOT)}) with scripts/build.sh")
        p = subprocess.run([os.path.join(ROOT, "scripts", "build.sh")], env=dict(os.environ, BUILD_DIR=b.build),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        b.write_log(p.stdout)
        if p.returncode != 0:
            sys.exit("bench/run: build failed:\n" + "\n".join(p.stdout.splitlines()[-20:]))
    for exe in ("killreport", "fake-esi", "queue_bench", "kr_bench_tool"):
        if not os.path.exists(b.bin(exe)):
            sys.exit(f"bench/run: {b.bin(exe)} is missing (build first: scripts/build.sh)")

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    meta = {"runs": runs, "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
            "load_start": " ".join(f"{x:.2f}" for x in os.getloadavg())}
    t0 = time.monotonic()
    raw = {}
    try:
        if any(BY_NAME[s].SERVERS for s in only):
            b.start_servers()
        for s in only:
            fn = BY_NAME[s].run
            for i in range(runs):
                log(f"{s}: run {i + 1}/{runs}")
                ts = time.monotonic()
                try:
                    res = fn(b, i)
                except NotMeasured as e:
                    log(f"{s}: not measured: {e}")
                    for f in FIGURES:
                        if f.scenario == s and not f.values:
                            f.missing = str(e)
                    break
                except KeyboardInterrupt:
                    raise
                except Exception as e:  # a failed run is reported, the others go on
                    log(f"{s}: run {i + 1} FAILED: {e}")
                    b.write_log(f"{s} run {i + 1} failed: {e!r}")
                    b.stop_children()
                    for f in FIGURES:
                        if f.scenario == s and not f.values:
                            f.missing = f"failed: {str(e)[:160]}"
                    continue
                for k, v in res.items():
                    figure(k).values.append(v)
                raw.setdefault(s, []).append(res)
                log(f"{s}: run {i + 1} done in {time.monotonic() - ts:.1f} s: "
                    + ", ".join(f"{k}={v:,.2f}" for k, v in res.items()))
        for f in FIGURES:
            if f.scenario not in only and not f.values:
                f.missing = "scenario not selected (--only)"
    except KeyboardInterrupt:
        log("interrupted; writing what was measured")
    finally:
        b.stop_children()
        b.stop_servers()
        shutil.rmtree(b.work, ignore_errors=True)
    meta["load_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    meta["duration"] = time.monotonic() - t0
    with open(os.path.join(b.out, "results.json"), "w") as fh:
        json.dump({"meta": meta, "runs": raw}, fh, indent=1)
    write_report(b.quick, args.out, meta, {s.NAME: s.DESCRIPTION for s in SCENARIOS})
    log(f"wrote {os.path.relpath(args.out, os.getcwd())} ({meta['duration']:.0f} s)")
    met = sum(1 for f in FIGURES if f.values and f.verdict(statistics.median(f.values)) == "met")
    notmet = sum(1 for f in FIGURES if f.values and "not met" in f.verdict(statistics.median(f.values)))
    missing = sum(1 for f in FIGURES if not f.values)
    log(f"{met} met, {notmet} not met, {missing} not measured")
