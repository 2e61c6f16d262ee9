"""refresh: keeping N stored characters true when 2 % of them changed corporation — queue:characters'
affiliation sweep, then the workers — against fake-esi; ESI requests counted by fake-esi."""
import datetime
import os
import sqlite3
import time

from ..figures import fig
from ..servers import FakeEsi, rate_env
from .common import remove_sqlite, run_info_worker

NAME = "refresh"
SERVERS = False
DESCRIPTION = ("fake-esi, SQLite: N stored characters (100,000; quick 10,000) with their corporations and "
               "alliances; 2 % of them move to another corporation in the simulator; then one refresh of the "
               "scaled-out layout — `queue:characters` (the affiliation sweep) and the workers (`run --until-idle`, "
               "its own schedule off). ESI requests counted by fake-esi; the bound is N/1000 + 2 % · N + 10 (the "
               "original: N). The characters are written into the database directly (their stored affiliation is "
               "ESI's), the corporations and alliances fetched by the workers before the measurement.")


def define_figures():
    fig("refresh_n", NAME, "stored characters (N)", "characters")
    fig("refresh_requests", NAME, "ESI requests of the refresh", "requests")
    fig("refresh_bound", NAME, "ESI requests ÷ (N/1000 + 2 % · N + 10)", "ratio", 1.0, "<=", fmt="{:.3f}")
    fig("refresh_s_at_50", NAME, "the refresh's requests at 50 req/s", "s", fmt="{:.1f}")
    fig("refresh_rows_changed", NAME, "character rows changed by the refresh", "rows")
    fig("refresh_changed_right", NAME, "changed characters whose stored corporation is ESI's after", "%", 100, ">=",
        fmt="{:.1f}")
    fig("refresh_others_untouched", NAME, "unchanged characters whose row stayed as it was", "%", 100, ">=",
        fmt="{:.1f}")
    fig("refresh_wall_s", NAME, "wall time of the refresh (no rate limit)", "s", fmt="{:.1f}")


def _insert_characters(path, affiliations):
    """The characters as ESI says they are now, written straight into the table (other columns:
    placeholders that satisfy NOT NULL)."""
    con = sqlite3.connect(path)
    try:
        cols = con.execute("PRAGMA table_info(characters)").fetchall()  # cid, name, type, notnull, dflt, pk
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        names = [c[1] for c in cols]
        rows = []
        for a in affiliations:
            row = []
            for _, name, typ, notnull, dflt, _pk in cols:
                if name == "id":
                    row.append(a["character_id"])
                elif name in ("corporation_id", "alliance_id", "faction_id"):
                    row.append(a.get(name))
                elif name == "name":
                    row.append(f"Character {a['character_id']}")
                elif name in ("created_at", "updated_at", "birthday"):
                    row.append(now)
                elif notnull and dflt is None:
                    row.append(0 if "INT" in typ.upper() or "REAL" in typ.upper() else "")
                else:
                    row.append(None)
            rows.append(row)
        con.executemany(f"INSERT INTO characters ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})", rows)
        con.commit()
    finally:
        con.close()


def _stored(path):
    con = sqlite3.connect(path)
    try:
        return {r[0]: (r[1], r[2], r[3]) for r in
                con.execute("SELECT id, corporation_id, alliance_id, faction_id FROM characters")}
    finally:
        con.close()


def run(b, i):
    b.require_commands("queue:characters", "run", "db:migrate", "worker:info:corporations")
    n = 10000 if b.quick else 100000
    res = {"refresh_n": n}
    # The simulator deletes ~2 % of its characters (404 on ESI): generate enough for n existing ones.
    with FakeEsi(b, "--characters", n * 103 // 100, "--corporations", 1000, "--alliances", 100, "--killmails", 100,
                 "--no-samples", "--cache-seconds", 3600) as fake:
        ids = fake.get("/_admin/truth/characters")[:n]
        n = len(ids)
        res["refresh_n"] = n
        path = os.path.join(b.work, f"refresh-{i}.db")
        url = "sqlite://" + path
        env = rate_env(b, fake, url)
        env["KILLREPORT_REFRESH"] = "0"
        env["KILLREPORT_UNIVERSE_CHECK"] = "0"
        b.run([b.bin("killreport"), "db:migrate"], env=env)
        # The stored world: every character as ESI has it now, every corporation and alliance.
        affiliations = []
        for k in range(0, n, 1000):
            affiliations += fake.post("/characters/affiliation/", ids[k:k + 1000])
        _insert_characters(path, affiliations)
        corporations = fake.get("/_admin/truth/corporations")
        run_info_worker(b, fake, "corporations", corporations, url, None)
        run_info_worker(b, fake, "alliances", fake.get("/_admin/truth/alliances"), url, None)
        before = _stored(path)
        # 2 % of the characters change corporation (every 50th, to the next player corporation).
        players = sorted(c for c in corporations if c >= 98000000)
        moved = set()
        for k in range(0, n, 50):
            cid = ids[k]
            corp = before[cid][0]
            target = next(c for c in players if c != corp) if corp not in players else \
                players[(players.index(corp) + 1) % len(players)]
            fake.post(f"/_admin/mutate/character/{cid}/move/{target}")
            moved.add(cid)
        # One refresh.
        fake.post("/_admin/reset-stats")
        t0 = time.monotonic()
        b.run([b.bin("killreport"), "queue:characters"], env=env, timeout=1800)
        b.run([b.bin("killreport"), "run", "--until-idle", "--no-live"], env=env, timeout=1800)
        res["refresh_wall_s"] = time.monotonic() - t0
        st = fake.get("/_admin/stats")
        res["refresh_requests"] = st["esi_requests"]
        res["refresh_bound"] = st["esi_requests"] / (n / 1000 + 0.02 * n + 10)
        res["refresh_s_at_50"] = st["esi_requests"] / 50.0
        after = _stored(path)
        res["refresh_rows_changed"] = sum(1 for cid in ids if after.get(cid) != before.get(cid))
        right = 0
        for cid in moved:
            truth = fake.get(f"/_admin/truth/affiliation/{cid}")
            right += after.get(cid, (None,))[0] == truth["corporation_id"]
        res["refresh_changed_right"] = 100.0 * right / max(1, len(moved))
        untouched = sum(1 for cid in ids if cid not in moved and after.get(cid) == before.get(cid))
        res["refresh_others_untouched"] = 100.0 * untouched / max(1, n - len(moved))
        remove_sqlite(path)
    return res
