"""Child processes: run to completion, start in the background, reap with CPU and peak RSS."""
import os
import subprocess
import tempfile
import time


class Measured:
    def __init__(self, rc, wall, cpu, maxrss_mb, output):
        self.rc, self.wall, self.cpu, self.maxrss_mb, self.output = rc, wall, cpu, maxrss_mb, output


class Procs:
    """Process handling of Bench (mixin): needs self.build, self.work, self.logfile, self.children
    and self.env()."""

    def bin(self, name):
        return os.path.join(self.build, name)

    def write_log(self, text):
        self.logfile.write(text)
        if not text.endswith("\n"):
            self.logfile.write("\n")
        self.logfile.flush()

    def run(self, cmd, env=None, timeout=600, check=True):
        """Runs cmd to completion; returns its output (also logged)."""
        self.write_log(f"$ {' '.join(cmd)}")
        p = subprocess.run(cmd, env=env or self.env(), cwd=self.work, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=timeout)
        self.write_log(p.stdout)
        if check and p.returncode != 0:
            tail = " | ".join(p.stdout.strip().splitlines()[-3:])
            raise RuntimeError(f"{os.path.basename(cmd[0])} {cmd[1] if len(cmd) > 1 else ''} exited "
                               f"{p.returncode}: {tail}")
        return p.stdout

    def start(self, cmd, env=None, measured=False):
        """Starts cmd in the background. measured=True runs it under `kr_bench_tool measure`, which
        reports the process's own CPU and peak RSS (see kr_bench_tool.cpp for why not wait4 here)."""
        res = None
        if measured:
            res = os.path.join(self.work, f"measure-{time.monotonic_ns()}.txt")
            cmd = [self.bin("kr_bench_tool"), "measure", res, "--", *cmd]
        self.write_log(f"$ {' '.join(cmd)} &")
        out = tempfile.TemporaryFile(mode="w+", dir=self.work)
        p = subprocess.Popen(cmd, env=env or self.env(), cwd=self.work, stdout=out, stderr=subprocess.STDOUT)
        p.kr_out, p.kr_res = out, res
        p.kr_t0 = time.monotonic()
        self.children.append(p)
        return p

    def reap(self, p, timeout, from_now=False):
        """Waits for a child started with start() up to `timeout` s after its start (from_now: after
        now); returns Measured."""
        deadline = (time.monotonic() if from_now else p.kr_t0) + timeout
        timed_out = False
        while p.poll() is None:
            if time.monotonic() > deadline:
                p.kill()
                p.wait()
                timed_out = True
                break
            time.sleep(0.002)
        wall = time.monotonic() - p.kr_t0
        self.children.remove(p)
        p.kr_out.seek(0)
        output = p.kr_out.read()
        p.kr_out.close()
        self.write_log(output)
        if timed_out:
            raise RuntimeError(f"timed out after {timeout:.0f} s")
        cpu = rss = float("nan")
        if p.kr_res:
            try:
                _, wall_s, cpu_s, rss_kb = open(p.kr_res).read().split()
                wall, cpu, rss = float(wall_s), float(cpu_s), int(rss_kb) / 1024
            except (OSError, ValueError):
                raise RuntimeError("kr_bench_tool measure wrote no result")
        self.write_log(f"  -> rc {p.returncode}, wall {wall:.3f} s, cpu {cpu:.3f} s, max RSS {rss:.1f} MB")
        return Measured(p.returncode, wall, cpu, rss, output)

    def measure(self, cmd, env=None, timeout=600):
        m = self.reap(self.start(cmd, env, measured=True), timeout)
        if m.rc != 0:
            tail = " | ".join(m.output.strip().splitlines()[-3:])
            raise RuntimeError(f"{' '.join(os.path.basename(c) for c in cmd[:1])} {cmd[-3:]} exited {m.rc}: {tail}")
        return m

    def stop_children(self):
        for p in list(self.children):
            try:
                p.kill()
                p.wait(5)
            except Exception:
                pass
        self.children.clear()
