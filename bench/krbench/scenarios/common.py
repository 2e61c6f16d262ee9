"""What several scenarios share: killreport's queue names and entity kinds, and helpers that
pre-load a queue, run a worker while watching its row count, and read or remove SQLite files."""
import os
import re
import signal
import sqlite3
import time

from ..servers import rate_env

KINDS = ["alliances", "corporations", "characters", "types"]
INFO_QUEUES = {"alliances": "esi_alliance_info_queue", "corporations": "esi_corporation_info_queue",
               "characters": "esi_character_info_queue", "types": "esi_type_info_queue"}
ALL_QUEUES = list(INFO_QUEUES.values()) + ["esi_alliance_corporations_queue", "zkillboard_character_queue"]


def write_ids(bench, ids, name):
    path = os.path.join(bench.work, name)
    with open(path, "w") as f:
        f.write("\n".join(str(i) for i in ids))
    return path


def sqlite_count(path, sql):
    con = sqlite3.connect(path)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


def remove_sqlite(path):
    """Removes a SQLite database with its -wal and -shm files."""
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)


def run_watched(b, cmd, env, database_url, count_sql, timeout=900):
    """Runs cmd (measured) while `kr_bench_tool watch` polls count_sql every 50 ms. Returns
    (Measured, busy seconds): from the start to the last change of the count, i.e. when the last row
    committed, without the idle-detection tail of --until-idle (None if the count never changed)."""
    watcher = b.start([b.bin("kr_bench_tool"), "watch", database_url, count_sql, "50"])
    time.sleep(0.2)  # the watcher's first sample (the empty table) is in before the worker starts
    p = b.start(cmd, env, measured=True)
    try:
        m = b.reap(p, timeout)
    finally:
        time.sleep(0.15)
        watcher.send_signal(signal.SIGTERM)
        w = b.reap(watcher, 10, from_now=True)
    if m.rc != 0:
        raise RuntimeError(f"{' '.join(cmd[1:])} exited {m.rc}: {' | '.join(m.output.strip().splitlines()[-3:])}")
    changes = [line.split() for line in w.output.splitlines() if re.match(r"^[\d.]+ \d+$", line)]
    busy = float(changes[-1][0]) - p.kr_t0 if len(changes) > 1 else None
    return m, busy


def run_info_worker(b, fake, kind, ids, database_url, amqp_url, concurrency=64, **extra_env):
    """Publishes ids onto kind's queue, runs worker:info:<kind> --until-idle (extra_env added to its
    environment); returns (Measured, busy s)."""
    env = rate_env(b, fake, database_url, amqp_url)
    env.update({k: str(v) for k, v in extra_env.items()})
    path = write_ids(b, ids, f"{kind}.ids")
    b.run([b.bin("kr_bench_tool"), "publish", INFO_QUEUES[kind], path], env=env)
    return run_watched(b, [b.bin("killreport"), f"worker:info:{kind}", "--until-idle", "--concurrency",
                           str(concurrency)], env, database_url, f"SELECT count(*) FROM {kind}")
