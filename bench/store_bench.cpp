// Store throughput: entity upserts/s, killmails/s (SQLite and PostgreSQL) and the scanner
// (MissingReferencedIds over SQL-generated killmails, PostgreSQL).
//
//   store_bench [--sqlite PATH|-] [--pg DSN|-] [--entities N] [--killmails N] [--batch N]
//               [--scan N[,N…]] [--page N] [--scan-only] [--keep]
//
// --pg defaults to $KR_TEST_PG_DSN (a database kr_store_bench_<pid> is created and dropped);
// --sqlite defaults to a temp file (deleted). "-" skips a backend.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <sys/resource.h>

#include "core/errors.hpp"
#include "db/migrator.hpp"
#include "store/store.hpp"

using namespace kr;
using Steady = std::chrono::steady_clock;  // kr::Clock is the wall clock

namespace {

double Seconds(Steady::time_point since) { return std::chrono::duration<double>(Steady::now() - since).count(); }

/// CPU seconds (user + system) of this process.
double SelfCpu() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/// CPU seconds of a local process from /proc (the PostgreSQL backend serving us); -1 if unreadable.
double ProcCpu(long pid) {
    if (pid <= 0) return -1;
    std::FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
    if (!f) return -1;
    char buf[1024];
    std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    buf[n] = 0;
    const char* p = std::strrchr(buf, ')');  // fields after "(comm)"
    if (!p) return -1;
    unsigned long utime = 0, stime = 0;
    // state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
    if (std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2) return -1;
    return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

/// Wall time, and CPU time (ours + the local PostgreSQL backend's): on a machine shared with other
/// work the CPU figure is what the store costs, the wall figure what we got.
struct Meter {
    long backend_pid = 0;
    Steady::time_point t0 = Steady::now();
    double cpu0 = SelfCpu(), server0 = ProcCpu(backend_pid);
    explicit Meter(long pid) : backend_pid(pid), server0(ProcCpu(pid)) {}
    double Wall() const { return Seconds(t0); }
    double Cpu() const {
        double server = server0 < 0 ? 0 : ProcCpu(backend_pid) - server0;
        return SelfCpu() - cpu0 + server;
    }
};

long MaxRssMb() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;
}

std::string WithDatabase(const std::string& dsn, const std::string& db) {
    auto scheme = dsn.find("://");
    auto slash = dsn.find('/', scheme == std::string::npos ? 0 : scheme + 3);
    auto query = dsn.find('?');
    std::string base = slash == std::string::npos ? dsn.substr(0, query) : dsn.substr(0, slash);
    return base + "/" + db + (query == std::string::npos ? "" : dsn.substr(query));
}

Corporation MakeCorporation(Id id, int variant) {
    Corporation c;
    c.id = id;
    c.name = "Corp \"" + std::to_string(id) + "\" O'Neil";
    c.ticker = "T" + std::to_string(id % 10000);
    c.member_count = 10 + variant;
    c.ceo_id = 90000000 + id % 100000;
    c.creator_id = 90000000 + id % 777;
    c.date_founded = "2015-01-12T22:01:46Z";
    c.description = "Enter a description of your corporation here.";
    if (id % 3) c.alliance_id = 99000000 + id % 3000;
    c.home_station_id = 60003760;
    c.shares = 1000;
    c.tax_rate = 0.1;
    c.url = "http://";
    return c;
}

Killmail MakeKillmail(Id id, std::mt19937_64& rng) {
    auto pick = [&](Id base, Id range) { return base + static_cast<Id>(rng() % static_cast<std::uint64_t>(range)); };
    Killmail km;
    km.killmail_id = id;
    km.killmail_hash = "0123456789abcdef0123456789abcdef01234567";
    km.killmail_time = "2025-06-01T12:34:56Z";
    km.solar_system_id = pick(30000001, 5000);
    km.total_value = 123456789.5;
    km.destroyed_value = 100000000.25;
    km.dropped_value = 23456789.25;
    km.victim.character_id = pick(90000000, 300000);
    km.victim.corporation_id = pick(98000000, 20000);
    km.victim.alliance_id = pick(99000000, 3000);
    km.victim.ship_type_id = pick(500, 4000);
    km.victim.damage_taken = 12345;
    km.victim.position = Position{1.5e12, -2.25e11, 3.0e10};
    for (int a = 0; a < 10; ++a) {
        Attacker at;
        at.character_id = pick(90000000, 300000);
        at.corporation_id = pick(98000000, 20000);
        if (a % 2) at.alliance_id = pick(99000000, 3000);
        at.ship_type_id = pick(500, 4000);
        at.weapon_type_id = pick(2000, 3000);
        at.damage_done = 1234;
        at.final_blow = a == 0;
        at.security_status = -1.5;
        km.attackers.push_back(at);
    }
    for (int i = 0; i < 10; ++i) {
        KillmailItem item;
        item.item_type_id = pick(1000, 8000);
        item.flag = 11 + i;
        item.quantity_destroyed = 1;
        if (i == 9)
            item.items = {{pick(1000, 8000), 5, 100, std::nullopt, 0, {}},
                          {pick(1000, 8000), 5, std::nullopt, 3, 0, {}}};
        km.victim.items.push_back(item);
    }
    return km;
}

/// The PostgreSQL backend of the store's own connection (0 on SQLite): the one other session on
/// the benchmark's database, seen from `conn` once the store has used its connection.
long StoreBackendPid(db::Connection& conn, store::Store& store) {
    if (conn.GetDialect() != db::Dialect::kPostgres) return 0;
    store.Counts();
    auto r = conn.Exec(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND backend_type = 'client backend'");
    return r.Rows() == 1 ? static_cast<long>(r.Int(0, 0)) : 0;
}

void BenchThroughput(const std::string& label, const std::string& url, std::size_t entities, std::size_t killmails,
                     std::size_t batch) {
    auto conn = db::Open(url);
    db::Migrate(*conn);
    auto store = store::OpenStore(url);
    const long backend = StoreBackendPid(*conn, *store);
    std::printf("[%s] (cpu = this process + the PostgreSQL backend)\n", label.c_str());
    // entity upserts: insert, update (changed), unchanged
    for (int pass = 0; pass < 3; ++pass) {
        const char* name = pass == 0 ? "insert" : pass == 1 ? "update" : "unchanged";
        Meter m(backend);
        store::UpsertCounts total;
        std::vector<Corporation> rows;
        for (std::size_t i = 0; i < entities; i += batch) {
            rows.clear();
            for (std::size_t j = i; j < std::min(entities, i + batch); ++j) {
                rows.push_back(MakeCorporation(98000000 + static_cast<Id>(j), pass == 0 ? 0 : 1));
            }
            store::EntityBatch b;
            b.entities.assign(rows.begin(), rows.end());
            total += store->ApplyEntityBatch(b).counts[EntityKind::kCorporation];
        }
        double s = m.Wall(), cpu = m.Cpu();
        std::printf(
            "  corporations %-9s %8zu rows  %6.2f s %9.0f rows/s | cpu %6.2f s %9.0f rows/cpu-s  "
            "(created %zu, updated %zu, unchanged %zu)\n",
            name, entities, s, static_cast<double>(entities) / s, cpu, static_cast<double>(entities) / cpu,
            total.created, total.updated, total.unchanged);
    }
    // killmails: 10 attackers, 10 items (one container with 2 nested items) each
    std::mt19937_64 rng(42);
    std::vector<Killmail> all;
    all.reserve(killmails);
    for (std::size_t i = 0; i < killmails; ++i) all.push_back(MakeKillmail(100000000 + static_cast<Id>(i), rng));
    for (int pass = 0; pass < 2; ++pass) {
        Meter m(backend);
        store::StoreKillmailsResult total;
        for (std::size_t i = 0; i < killmails; i += batch) {
            std::vector<Killmail> chunk(all.begin() + static_cast<std::ptrdiff_t>(i),
                                        all.begin() + static_cast<std::ptrdiff_t>(std::min(killmails, i + batch)));
            auto r = store->StoreKillmails(chunk);
            total.inserted += r.inserted;
            total.already_present += r.already_present;
        }
        double s = m.Wall(), cpu = m.Cpu();
        std::printf(
            "  killmails    %-9s %8zu kms   %6.2f s %9.0f kms/s  | cpu %6.2f s %9.0f kms/cpu-s  "
            "(inserted %zu, present %zu)\n",
            pass == 0 ? "new" : "again", killmails, s, static_cast<double>(killmails) / s, cpu,
            static_cast<double>(killmails) / cpu, total.inserted, total.already_present);
    }
}

/// Fills killmails 1..n (10 attackers, 10 items, every 10th killmail a container with 2 nested
/// items) with set-based SQL, plus half of the referenced characters as known entities.
void GenerateKillmails(db::Connection& c, std::int64_t n) {
    // Bulk load: secondary indexes are rebuilt afterwards and FK triggers are off for this session
    // (the generated rows are consistent by construction). Only the generator does this.
    auto defs = c.Exec(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename IN "
        "('victims', 'attackers', 'killmail_items', 'kr_killmail_item_children') AND indexname NOT LIKE "
        "'%_pkey'");
    for (std::size_t i = 0; i < defs.Rows(); ++i) c.ExecScript("DROP INDEX " + defs.Text(i, 0));
    c.ExecScript("SET session_replication_role = replica");
    const std::int64_t chunk = 100000;
    for (std::int64_t lo = 1; lo <= n; lo += chunk) {
        std::int64_t hi = std::min(n, lo + chunk - 1);
        std::vector<db::Param> p{lo, hi};
        db::Transaction tx(c);
        c.Exec(
            "INSERT INTO killmails (killmail_id, killmail_hash, killmail_time, solar_system_id, attacker_count, "
            "is_war_related, created_at, updated_at) SELECT g, md5(g::text), timestamp '2025-01-01' + g * interval "
            "'1 second', 30000000 + g % 5000, 10, false, now(), now() FROM generate_series($1::bigint, $2::bigint) g",
            p);
        c.Exec(
            "INSERT INTO victims (killmail_id, character_id, corporation_id, alliance_id, ship_type_id, damage_taken, "
            "created_at) SELECT g, CASE WHEN g % 50 = 0 THEN NULL ELSE 90000000 + (g * 7919) % 300000 END, "
            "98000000 + g % 20000, CASE WHEN g % 3 = 0 THEN NULL ELSE 99000000 + g % 3000 END, 500 + g % 4000, 1000, "
            "now() FROM generate_series($1::bigint, $2::bigint) g",
            p);
        c.Exec(
            "INSERT INTO attackers (killmail_id, character_id, corporation_id, alliance_id, faction_id, ship_type_id, "
            "weapon_type_id, damage_done, final_blow, security_status, created_at, updated_at) SELECT g, CASE WHEN a = "
            "10 THEN 3000000 + g % 1000 WHEN a = 9 AND g % 10 = 0 THEN NULL ELSE 90000000 + (g * 31 + a * 7717) % "
            "300000 END, CASE WHEN a = 9 AND g % 10 = 0 THEN NULL ELSE 98000000 + (g + a) % 20000 END, "
            "99000000 + (g * a) % 3000, CASE WHEN a = 9 AND g % 10 = 0 THEN 500021 END, 500 + (g + a) % 4000, "
            "2000 + (g * a) % 3000, 100, a = 1, 0.5, now(), now() FROM generate_series($1::bigint, $2::bigint) g, "
            "generate_series(1, 10) a",
            p);
        c.Exec(
            "INSERT INTO killmail_items (killmail_id, item_type_id, flag, quantity_destroyed, singleton, created_at) "
            "SELECT g, 1000 + (g * 13 + i * 101) % 8000, 10 + i, 1, 0, now() FROM generate_series($1::bigint, "
            "$2::bigint) g, generate_series(1, 10) i",
            p);
        c.Exec(
            "INSERT INTO kr_killmail_item_children (killmail_id, position, parent_position, parent_item_type_id, "
            "parent_flag, depth, item_type_id, flag, quantity_dropped, singleton) SELECT g, j - 1, 9, 3467, 5, 1, "
            "9000 + (g + j) % 1000, 5, 1, 0 FROM generate_series($1::bigint, $2::bigint) g, generate_series(1, 2) j "
            "WHERE g % 10 = 0",
            p);
        tx.Commit();
    }
    c.ExecScript("SET session_replication_role = DEFAULT; SET maintenance_work_mem = '256MB'");
    for (std::size_t i = 0; i < defs.Rows(); ++i) c.ExecScript(defs.Text(i, 1));
    // Known entities: every other character of the pool, half of the corporations and types.
    c.Exec(
        "INSERT INTO characters (id, name, corporation_id, birthday, bloodline_id, race_id, gender, updated_at) "
        "SELECT 90000000 + i, 'c' || i, 98000000, '2020-01-01', 1, 1, 'male', now() FROM generate_series(0, 299999, 2) "
        "i "
        "ON CONFLICT DO NOTHING");
    c.Exec(
        "INSERT INTO corporations (id, name, ticker, member_count, ceo_id, creator_id, tax_rate, updated_at) "
        "SELECT 98000000 + i, 'k' || i, 'K', 1, 1, 1, 0, now() FROM generate_series(0, 19999, 2) i "
        "ON CONFLICT DO NOTHING");
    c.Exec(
        "INSERT INTO types (id, name, group_id, updated_at) SELECT i, 't' || i, 1, now() "
        "FROM generate_series(500, 9999, 2) i ON CONFLICT DO NOTHING");
}

void BenchScan(const std::string& admin_dsn, std::int64_t n, std::size_t page, bool keep) {
    // --keep: the database kr_store_scan_<n> is kept and reused by the next run (no regeneration).
    const std::string name = keep ? "kr_store_scan_" + std::to_string(n)
                                  : "kr_store_scan_" + std::to_string(::getpid()) + "_" + std::to_string(n);
    auto admin = db::Open(admin_dsn);
    bool exists = admin->Exec("SELECT count(*) FROM pg_database WHERE datname = $1", {name}).Int(0, 0) > 0;
    if (!keep || !exists) {
        admin->Exec("DROP DATABASE IF EXISTS " + name);
        admin->Exec("CREATE DATABASE " + name);
        exists = false;
    }
    {
        auto conn = db::Open(WithDatabase(admin_dsn, name));
        db::Migrate(*conn);
        auto store = store::OpenStore(WithDatabase(admin_dsn, name));
        auto t0 = Steady::now();
        if (!exists) GenerateKillmails(*conn, n);
        double gen = Seconds(t0);
        t0 = Steady::now();
        conn->ExecScript("DELETE FROM kr_pending_entities");
        conn->ExecScript("VACUUM ANALYZE");
        std::printf("[scan %lld killmails] generated in %.1f s, VACUUM ANALYZE %.1f s\n", static_cast<long long>(n),
                    gen, Seconds(t0));
        const long backend = StoreBackendPid(*conn, *store);
        auto run = [&](bool mark) {
            Meter m(backend);
            std::size_t total = 0;
            for (const auto& info : kr::EntityKinds()) {
                const auto kind = info.kind;
                auto k0 = Steady::now();
                std::size_t found = 0, pages = 0;
                Id after = 0;
                for (;;) {
                    auto ids = store->MissingReferencedIds(kind, after, page);
                    if (ids.empty()) break;
                    ++pages;
                    found += ids.size();
                    if (mark) store->MarkPending(kind, ids);  // what scan:entities does after publishing
                    after = ids.back();
                }
                total += found;
                std::printf("    %-11s %8zu missing  %4zu pages  %6.2f s\n", info.plural, found, pages, Seconds(k0));
            }
            std::printf("  %s: %zu ids in %.2f s wall, %.2f s cpu (max RSS %ld MB)\n",
                        mark ? "scan + MarkPending" : "rescan (all pending)", total, m.Wall(), m.Cpu(), MaxRssMb());
        };
        run(true);
        run(false);
    }
    if (!keep) admin->Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
}

}  // namespace

int main(int argc, char** argv) {
    std::string sqlite_path, pg_dsn = std::getenv("KR_TEST_PG_DSN") ? std::getenv("KR_TEST_PG_DSN") : "";
    std::size_t entities = 20000, killmails = 10000, batch = 500, page = 10000;
    std::vector<std::int64_t> scans;
    bool scan_only = false, keep = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "missing value for %s\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--sqlite")
            sqlite_path = next();
        else if (a == "--pg")
            pg_dsn = next();
        else if (a == "--entities")
            entities = std::stoul(next());
        else if (a == "--killmails")
            killmails = std::stoul(next());
        else if (a == "--batch")
            batch = std::stoul(next());
        else if (a == "--page")
            page = std::stoul(next());
        else if (a == "--scan") {
            std::stringstream ss(next());
            for (std::string v; std::getline(ss, v, ',');) scans.push_back(std::stoll(v));
        } else if (a == "--scan-only")
            scan_only = true;
        else if (a == "--keep")
            keep = true;
        else {
            std::fprintf(stderr,
                         "usage: %s [--sqlite PATH|-] [--pg DSN|-] [--entities N] [--killmails N] [--batch N] "
                         "[--scan N[,N]] [--page N] [--scan-only] [--keep]\n",
                         argv[0]);
            return 2;
        }
    }
    try {
        if (!scan_only) {
            if (sqlite_path != "-") {
                bool temp = sqlite_path.empty();
                if (temp) {
                    sqlite_path = (std::filesystem::temp_directory_path() /
                                   ("kr_store_bench_" + std::to_string(::getpid()) + ".db"))
                                      .string();
                }
                BenchThroughput("sqlite " + sqlite_path, "sqlite://" + sqlite_path, entities, killmails, batch);
                if (temp) {
                    for (const char* s : {"", "-wal", "-shm"}) std::filesystem::remove(sqlite_path + s);
                }
            }
            if (!pg_dsn.empty() && pg_dsn != "-") {
                const std::string name = "kr_store_bench_" + std::to_string(::getpid());
                auto admin = db::Open(pg_dsn);
                admin->Exec("CREATE DATABASE " + name);
                BenchThroughput("postgresql " + db::MaskUrl(pg_dsn), WithDatabase(pg_dsn, name), entities, killmails,
                                batch);
                admin->Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
            }
        }
        if (!scans.empty()) {
            if (pg_dsn.empty() || pg_dsn == "-") {
                std::fprintf(stderr, "--scan needs PostgreSQL (--pg DSN or KR_TEST_PG_DSN)\n");
                return 2;
            }
            for (auto n : scans) BenchScan(pg_dsn, n, page, keep);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "store_bench: %s\n", e.what());
        return 1;
    }
    return 0;
}
