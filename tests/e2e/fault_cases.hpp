#pragma once
// The fault suite's scenarios (issue 12, item 6), each on a layout of fault_harness.hpp: a sync
// of the simulator's history characters (zKillboard pages → killmails → enrichment of everything
// they reference, no scan:entities) under a fault, then the final database compared with the
// truth. fault_e2etest.cpp runs them on the embedded default (SQLite; and the database queue on
// PostgreSQL), fault_scaled_e2etest.cpp on RabbitMQ + PostgreSQL with one process per worker.
#include "e2e/fault_harness.hpp"
#include "store/store.hpp"
#include "support/temp_vhost.hpp"

namespace kr::test::faults {

/// The backend of a scenario: its name in the report, and the RabbitMQ vhost (scaled layout).
struct Target {
    std::string backend;  ///< "sqlite", "pg", "rabbitpg"
    Layout layout = Layout::kEmbedded;
    const TempVhost* vhost = nullptr;  ///< kScaled
};

inline std::unique_ptr<queue::Queue> OpenQueueOf(Pipeline& p) {
    const auto& b = p.GetBackend();
    return queue::OpenQueue(b.rabbitmq_url.empty() ? std::nullopt : std::optional(b.rabbitmq_url), b.database_url);
}

/// RabbitMQ's own count of the messages (ready + unacked) on the worker queues and their retry
/// tiers, dead letters left out: what the broker still holds for the workers.
inline std::int64_t BrokerMessages(const TempVhost& vhost) {
    auto r = TempVhost::Ctl("-q list_queues -p " + vhost.Name() + " --no-table-headers name messages");
    std::istringstream in(r.out);
    std::int64_t n = 0;
    std::string name;
    std::int64_t messages = 0;
    while (in >> name >> messages) {
        if (name.size() < 5 || name.substr(name.size() - 5) != ".dead") n += messages;
    }
    return r.exit_code == 0 ? n : -1;
}

/// `killreport run --until-idle` in the foreground: what a last sweep finds to do.
struct Sweep {
    int exit_code = -1;
    int settled = 0;  ///< messages it acked
    double seconds = 0;
    std::string err;
};
inline Sweep RunToIdle(Pipeline& p) {
    auto t = SteadyClock::now();
    // (Scaled layout: not the universe's first sweep, which no worker process does: the leftovers.)
    auto r = RunCommand(p.Env() + "LOG_LEVEL=debug KILLREPORT_UNIVERSE_CHECK=0 timeout 300 " KR_KILLREPORT_BIN
                                  " run --until-idle");
    Sweep s;
    s.exit_code = r.exit_code;
    s.seconds = SecondsSince(t);
    std::istringstream in(r.err);
    for (std::string line; std::getline(in, line);) {
        if (faults::IsAckLine(line)) ++s.settled;
        if (line.find(" debug ") == std::string::npos) s.err += line + "\n";
    }
    return s;
}

/// The end of a scenario whose processes must have carried on by themselves: on the embedded
/// layout `run --until-idle` exits 0; on the scaled one every process is still running when the
/// broker holds nothing and the outbox is empty for a few seconds, SIGTERM stops each with 0, and
/// a last `run --until-idle` finds nothing left to do. Returns the seconds from `since` to idle.
inline double DrainAlive(Pipeline& p, Fleet& fleet, const Target& s, SteadyClock::time_point since,
                         std::string& details, int starts = 1) {
    if (s.layout == Layout::kEmbedded) {
        auto rc = fleet.At(0).Wait(milliseconds(300000));
        EXPECT_EQ(rc, std::optional(0)) << fleet.Logs(40);
        EXPECT_EQ(fleet.At(0).Starts(), starts) << "`run` did not get through on its own";
        return SecondsSince(since);
    }
    auto db = db::Open(p.GetBackend().database_url);
    auto quiet_since = SteadyClock::now();
    int settled = fleet.Settled();
    double idle_at = -1;
    const auto give_up = SteadyClock::now() + std::chrono::seconds(Count(240, 900));
    while (SteadyClock::now() < give_up) {
        SleepMs(500);
        if (int now = fleet.Settled(); now != settled) {
            settled = now;
            quiet_since = SteadyClock::now();
            continue;
        }
        if (SteadyClock::now() - quiet_since < milliseconds(2500)) continue;
        if (db->Exec("SELECT count(*) FROM kr_entity_outbox").Int(0, 0) != 0) continue;
        if (BrokerMessages(*s.vhost) != 0) continue;
        idle_at = std::chrono::duration<double>(quiet_since - since).count();
        break;
    }
    EXPECT_GE(idle_at, 0) << "the workers did not finish the work by themselves\n" << fleet.Logs();
    EXPECT_EQ(fleet.Exited(), "") << "a worker process died\n" << fleet.Logs(40);
    auto codes = fleet.TermAll();
    for (std::size_t i = 0; i < codes.size(); ++i) {
        EXPECT_EQ(codes[i], 0) << fleet.At(i).Name() << " on SIGTERM at idle\n" << fleet.At(i).LogTail(30);
    }
    auto sweep = RunToIdle(p);
    EXPECT_EQ(sweep.exit_code, 0) << sweep.err;
    EXPECT_EQ(sweep.settled, 0) << "work the workers left behind\n" << sweep.err;
    details += "; sweep found " + std::to_string(sweep.settled);
    return idle_at;
}

/// Seconds from `since` until `proc`'s current start acks something (nullopt: not within limit).
inline std::optional<double> WaitResumed(Proc& proc, SteadyClock::time_point since, milliseconds limit,
                                         const std::function<bool()>& nothing_to_do = {}) {
    std::optional<double> out;
    WaitFor(
        [&] {
            if (proc.Settled() > 0) {
                out = SecondsSince(since);
                return true;
            }
            return nothing_to_do && SteadyClock::now() - since > milliseconds(3000) && nothing_to_do();
        },
        limit);
    return out;
}

/// Seconds from `since` until any process acks more than `before` (nullopt: not within limit).
inline std::optional<double> WaitProgress(Fleet& fleet, int before, SteadyClock::time_point since, milliseconds limit) {
    std::optional<double> out;
    WaitFor(
        [&] {
            if (fleet.Settled() <= before) return false;
            out = SecondsSince(since);
            return true;
        },
        limit);
    return out;
}

// ---- 1. kill -9 at random moments ------------------------------------------------------------------

/// ≥ 10 kill -9 of the worker process(es) at random moments of the sync and the enrichment (while
/// work is left), each restarted at once: work resumes within seconds (the database queue takes a
/// dead process's leases over at its start; RabbitMQ redelivers when the connection drops), and in
/// the end nothing is lost or duplicated and no scan is needed. The test's Pipeline needs the
/// larger universe, KillUniverse(): enough work for the kills.
inline void KillNineAtRandom(Pipeline& p, const Target& s) {
    const auto seed = Seed();
    std::printf("kill -9 at random moments: seed %llu (KR_FAULT_SEED to replay)\n",
                static_cast<unsigned long long>(seed));
    std::mt19937_64 rng(seed);
    auto uniform = [&](std::int64_t lo, std::int64_t hi) {
        return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
    };
    const int kills_wanted = Count(10, 40);
    const auto synced = QueueSync(p);
    Fleet fleet(p, s.layout);
    auto q = OpenQueueOf(p);
    auto db = db::Open(p.GetBackend().database_url);
    const bool db_queue = p.GetBackend().rabbitmq_url.empty();
    const auto t_start = SteadyClock::now();
    fleet.StartAll();
    ASSERT_TRUE(WaitFor([&] { return fleet.Settled() > 0; }, milliseconds(60000))) << fleet.Logs();

    std::vector<double> recovery, takeover;
    int kills = 0, killed_processes = 0, rounds_without_work = 0;
    std::int64_t leased_at_kill = 0;
    for (int round = 0; round < kills_wanted; ++round) {
        SleepMs(uniform(50, 1500));
        if (s.layout == Layout::kScaled && Pending(*q) == 0 && fleet.Busy(milliseconds(1500)).empty()) {
            ADD_FAILURE() << "the work was done after " << kills << " kill(s): too little work for " << kills_wanted;
            break;
        }
        std::vector<std::size_t> victims;
        if (s.layout == Layout::kEmbedded) {
            victims = {0};
        } else {
            auto busy = fleet.Busy(milliseconds(2000));
            auto dice = uniform(0, 99);
            if (dice < 20 || busy.empty()) {
                for (std::size_t i = 0; i < fleet.Size(); ++i) victims.push_back(i);
            } else {
                victims.push_back(
                    busy[static_cast<std::size_t>(uniform(0, static_cast<std::int64_t>(busy.size()) - 1))]);
                if (dice < 40) {
                    auto other = static_cast<std::size_t>(uniform(0, static_cast<std::int64_t>(fleet.Size()) - 1));
                    if (other != victims[0]) victims.push_back(other);
                }
            }
        }
        std::vector<pid_t> dead;
        if (s.layout == Layout::kScaled) {
            // A worker that exited 0 by itself (no --until-idle here; seen once, cause unknown —
            // see the closing note of 2026-11-30) is started again rather than failing the run;
            // any other exit still fails below.
            std::vector<std::size_t> alive;
            for (auto v : victims) {
                auto& proc = fleet.At(v);
                if (!proc.Running() && proc.Poll() == 0) {
                    proc.Start();
                    continue;
                }
                alive.push_back(v);
            }
            victims = alive;
            if (victims.empty()) continue;
        }
        for (auto v : victims) {
            auto& proc = fleet.At(v);
            ASSERT_TRUE(proc.Running()) << proc.Name() << " exited by itself after " << kills
                                        << " kill(s): the sync ran out of work before " << kills_wanted
                                        << " kills (too little work), or it died\n"
                                        << proc.LogTail(40);
            dead.push_back(proc.Pid());
            proc.Kill(SIGKILL);
            ++killed_processes;
        }
        ++kills;
        const auto t_kill = SteadyClock::now();
        const std::string owned = "owner LIKE '%/" + std::to_string(dead[0]) + "/%'";
        if (db_queue) leased_at_kill += db->Exec("SELECT count(*) FROM kr_queue_messages WHERE " + owned).Int(0, 0);
        for (auto v : victims) fleet.At(v).Start();

        // The dead processes' leases (database queue): taken over by the restarted process.
        if (db_queue) {
            auto gone = WaitFor(
                [&] { return db->Exec("SELECT count(*) FROM kr_queue_messages WHERE " + owned).Int(0, 0) == 0; },
                milliseconds(60000), milliseconds(20));
            EXPECT_TRUE(gone) << "the dead process's leases were not taken over";
            takeover.push_back(SecondsSince(t_kill));
        }
        // Work resumes: each restarted process acks a message (unless its queue has nothing for it).
        double worst = -1;
        for (auto v : victims) {
            auto& proc = fleet.At(v);
            std::function<bool()> idle = [&proc] { return !proc.Running(); };  // `run` found nothing left
            if (s.layout == Layout::kScaled) {
                idle = [&, v] {
                    auto st = q->Stats(fleet.QueueOf(v));
                    return st.ready == 0 && st.retrying == 0;
                };
            }
            auto resumed = WaitResumed(proc, t_kill, milliseconds(60000), idle);
            if (resumed) {
                worst = std::max(worst, *resumed);
            } else {
                EXPECT_TRUE(idle && idle()) << proc.Name() << " did not resume work within 60 s\n" << proc.LogTail(40);
            }
        }
        if (worst >= 0) {
            recovery.push_back(worst);
        } else {
            ++rounds_without_work;
        }
    }
    std::string details;
    double to_idle = 0;
    if (s.layout == Layout::kEmbedded) {
        // The last start runs on to idle by itself.
        auto rc = fleet.At(0).Wait(milliseconds(300000));
        EXPECT_EQ(rc, std::optional(0)) << fleet.Logs(40);
        to_idle = SecondsSince(t_start);
    } else {
        // The host dies once more, with every worker; one `run --until-idle` finishes the work.
        fleet.KillAll(SIGKILL);
        ++kills;
        auto sweep = RunToIdle(p);
        EXPECT_EQ(sweep.exit_code, 0) << sweep.err;
        details = Fmt("; then all killed, a sweep acked %d in %.0f s", sweep.settled, sweep.seconds);
        to_idle = SecondsSince(t_start);
    }
    auto v = CompareWithTruth(p, synced, s.layout == Layout::kEmbedded);
    auto dead_letters = DeadLetters(p);
    const std::string buf = Fmt("%d kills of %d process(es), seed %llu, to idle %.0f s%s", kills, killed_processes,
                                static_cast<unsigned long long>(seed), to_idle,
                                db_queue ? (", " + std::to_string(leased_at_kill) +
                                            " leases of dead processes taken over in " + MedianMax(takeover))
                                               .c_str()
                                         : "");
    Report(s.backend, "kill-9-random", v, dead_letters, MedianMax(recovery), buf + details);
    EXPECT_GE(kills, kills_wanted);
    EXPECT_LE(rounds_without_work, kills_wanted / 2) << "most kills hit processes with nothing to do";
    for (double r : recovery) EXPECT_LE(r, 20.0) << "recovery after kill -9 must take seconds";
    for (double t : takeover) EXPECT_LE(t, 20.0) << "a dead process's leases must be taken over at once";
    ExpectTruth(v);
    EXPECT_EQ(dead_letters, 0);
}

// ---- 2. kill -9 right after a commit -----------------------------------------------------------------

/// worker:zkillboard killed the moment a page's killmails are committed, before the enrichment they
/// reference is published: the restarted worker publishes it from the outbox (kr_entity_outbox).
/// RabbitMQ: the broker's memory alarm blocks every publisher, so the kill lands after the commit and
/// before any publish for sure. Database queue: the test polls the outbox as fast as it can and
/// kills at once (the publish is a transaction of its own; if it was quicker, the kill hit between
/// the publish and the outbox's clearing, which the restart must also handle; it restarts and tries
/// again on a later page, up to 5 times, for a kill before the publish).
inline void KillNineAfterCommit(Pipeline& p, const Target& s) {
    const auto synced = QueueSync(p);
    Fleet fleet(p, s.layout);
    auto db = db::Open(p.GetBackend().database_url);
    auto q = OpenQueueOf(p);
    const std::size_t zkb = 0;  // run, or worker:zkillboard
    struct Alarm {              // RabbitMQ blocks publishers while its memory alarm is on
        bool on = false;
        void Set(bool v) {
            TempVhost::Ctl(std::string("set_vm_memory_high_watermark ") + (v ? "0" : "0.4"));
            on = v;
        }
        ~Alarm() {
            if (on) Set(false);
        }
    } alarm;
    if (s.layout == Layout::kScaled) alarm.Set(true);
    auto outbox = [&] { return db->Exec("SELECT count(*) FROM kr_entity_outbox").Int(0, 0); };
    // How many of the recorded ids already wait on their info queue (published before the kill).
    // (RabbitMQ: the alarm blocks every publish; database queue: by the ids, universe kinds left
    // out.)
    auto published = [&](const std::vector<std::pair<std::string, Id>>& ids) -> std::int64_t {
        if (s.layout == Layout::kScaled) {  // nothing can be consumed: nothing was published
            std::int64_t n = 0;
            for (const auto& k : EntityKinds()) n += q->Stats(k.queue).ready;
            return n;
        }
        std::set<std::pair<std::string, Id>> queued;
        auto r = db->Exec("SELECT queue, body FROM kr_queue_messages WHERE queue <> $1",
                          {std::string(queue::kZkillboardCharacter)});
        for (std::size_t i = 0; i < r.Rows(); ++i) {
            queued.emplace(r.Text(i, 0), queue::ParseEntityMessage(r.Text(i, 1)).entity_id);
        }
        std::int64_t n = 0;
        for (const auto& [kind, id] : ids) {
            const auto& k = KindInfo(*KindByName(kind));
            if (k.static_data) continue;  // `run`'s universe sweep queues every system anyway
            n += queued.count({k.queue, id});
        }
        return n;
    };

    const auto t_start = SteadyClock::now();
    fleet.StartAll();
    std::int64_t published_before = -1;
    std::vector<std::pair<std::string, Id>> recorded;
    int attempts = 1;
    for (;; ++attempts) {
        // (After a restart, the previous kill's leftovers are published and cleared first.)
        ASSERT_TRUE(WaitFor([&] { return outbox() == 0; }, milliseconds(60000))) << fleet.Logs();
        ASSERT_TRUE(WaitFor([&] { return outbox() > 0; }, milliseconds(90000), milliseconds(0)))
            << "no page was committed\n"
            << fleet.Logs();
        fleet.At(zkb).Kill(SIGKILL);
        auto rows = db->Exec("SELECT kind, id FROM kr_entity_outbox");
        recorded.clear();
        for (std::size_t i = 0; i < rows.Rows(); ++i) recorded.emplace_back(rows.Text(i, 0), rows.Int(i, 1));
        published_before = published(recorded);
        if ((!recorded.empty() && published_before == 0) || attempts == 5) break;
        fleet.At(zkb).Start();  // too late (published, or even cleared): on to the next page
    }
    const auto outbox_at_kill = static_cast<std::int64_t>(recorded.size());
    ASSERT_GT(outbox_at_kill, 0) << "the kill never landed before the outbox was cleared";
    if (s.layout == Layout::kScaled) {
        EXPECT_EQ(published_before, 0) << "the memory alarm should have blocked every publish";
        alarm.Set(false);
    }
    const auto t_restart = SteadyClock::now();
    fleet.At(zkb).Start();
    // The restart republishes the page's enrichment from the outbox, then clears it.
    bool republished =
        WaitFor([&] { return db->Exec("SELECT count(*) FROM kr_entity_outbox").Int(0, 0) == 0; }, milliseconds(60000));
    const double republish_s = SecondsSince(t_restart);
    EXPECT_TRUE(republished) << fleet.At(zkb).LogTail(40);
    std::string details;
    const double to_idle = DrainAlive(p, fleet, s, t_start, details, attempts + 1);

    // Every id the killed page recorded is stored (or known gone on ESI, or never fetched).
    int not_stored = 0;
    auto store = store::OpenStore(p.GetBackend().database_url);
    for (const auto& [kind, id] : recorded) {
        const auto k = KindByName(kind);
        if (!k) continue;
        std::string truth = KindInfo(*k).name;  // "solar_system" → /_admin/truth/solar-system/ID
        std::replace(truth.begin(), truth.end(), '_', '-');
        const bool stored = store->ExistingIds(*k, {id}).count(id) == 1;
        const bool gone = p.Truth(truth, id).is_null();
        if (!stored && !gone && ShouldFetch(*k, id)) ++not_stored;
    }
    auto v = CompareWithTruth(p, synced, s.layout == Layout::kEmbedded);
    auto dead_letters = DeadLetters(p);
    const std::string buf =
        Fmt("killed on attempt %d with %lld id(s) in the outbox, %lld of them published; "
            "republished in %.1f s; to idle %.0f s",
            attempts, static_cast<long long>(outbox_at_kill), static_cast<long long>(published_before), republish_s,
            to_idle);
    Report(s.backend, "kill-9-after-commit", v, dead_letters, Fmt("%.1f s", republish_s), buf + details);
    if (published_before != 0) {
        std::printf("note: each of the 5 kills came after the publish (the test polled too slowly)\n");
    }
    EXPECT_EQ(not_stored, 0) << "ids the killed page recorded were never enriched";
    EXPECT_LE(republish_s, 20.0);
    ExpectTruth(v);
    EXPECT_EQ(dead_letters, 0);
}

// ---- 3. broker restart ---------------------------------------------------------------------------------

/// RabbitMQ stopped mid-run (stop_app) for a few seconds (the long variant: 40 s, past the publish
/// timeout) and started again: every worker reconnects by itself and the work completes.
inline void BrokerRestart(Pipeline& p, const Target& s) {
    const auto synced = QueueSync(p);
    Fleet fleet(p, s.layout);
    const auto t_start = SteadyClock::now();
    fleet.StartAll();
    ASSERT_TRUE(WaitFor([&] { return fleet.Settled() > 30; }, milliseconds(60000))) << fleet.Logs();
    const int outage_s = Count(6, 40);
    const auto t_stop = SteadyClock::now();
    TempVhost::Ctl("stop_app");
    SleepMs(outage_s * 1000);
    TempVhost::Ctl("start_app");
    TempVhost::Ctl("await_startup");
    const auto t_up = SteadyClock::now();
    const int before = fleet.Settled();
    auto resumed = WaitProgress(fleet, before, t_up, milliseconds(90000));
    EXPECT_TRUE(resumed) << "no worker resumed after the broker came back\n" << fleet.Logs();
    std::string details;
    const double to_idle = DrainAlive(p, fleet, s, t_start, details);
    auto v = CompareWithTruth(p, synced, s.layout == Layout::kEmbedded);
    auto dead_letters = DeadLetters(p);
    const std::string buf =
        Fmt("broker down %.0f s; to idle %.0f s", std::chrono::duration<double>(t_up - t_stop).count(), to_idle);
    Report(s.backend, "broker-restart", v, dead_letters, resumed ? Fmt("%.1f s after start_app", *resumed) : "never",
           buf + details);
    if (resumed) {
        EXPECT_LE(*resumed, 20.0);
    }
    ExpectTruth(v);
    EXPECT_EQ(dead_letters, 0);
}

// ---- 4. database connections terminated ------------------------------------------------------------

/// pg_terminate_backend of every connection to the database, several times mid-run: each process
/// replaces its connections and carries on, an operation in flight is done again on a new
/// connection (no message spends an attempt); nothing lost, nothing dead-lettered.
inline void DatabaseConnectionsTerminated(Pipeline& p, const Target& s) {
    const auto seed = Seed();
    std::mt19937_64 rng(seed);
    const auto synced = QueueSync(p);
    Fleet fleet(p, s.layout);
    auto admin = db::Open(p.GetBackend().database_url);
    const auto t_start = SteadyClock::now();
    fleet.StartAll();
    ASSERT_TRUE(WaitFor([&] { return fleet.Settled() > 20; }, milliseconds(60000))) << fleet.Logs();
    const int times = Count(5, 25);
    std::vector<double> recovery;
    std::int64_t terminated = 0;
    int done = 0;
    for (; done < times; ++done) {
        SleepMs(std::uniform_int_distribution<int>(300, 2000)(rng));
        if (s.layout == Layout::kEmbedded && !fleet.At(0).Running()) break;  // the work is done
        const int before = fleet.Settled();
        const auto t = SteadyClock::now();
        terminated += admin
                          ->Exec(
                              "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                              "WHERE datname = current_database() AND pid <> pg_backend_pid()")
                          .Int(0, 0);
        if (auto r = WaitProgress(fleet, before, t, milliseconds(60000))) {
            recovery.push_back(*r);
        } else if (s.layout == Layout::kScaled || fleet.At(0).Running()) {
            ADD_FAILURE() << "no progress within 60 s after the connections were terminated\n" << fleet.Logs();
        }
    }
    EXPECT_GE(done, std::min(times, 3)) << "the work was done before the database was disturbed";
    std::string details;
    const double to_idle = DrainAlive(p, fleet, s, t_start, details);
    int failed_attempts = 0;
    for (std::size_t i = 0; i < fleet.Size(); ++i) failed_attempts += fleet.At(i).CountLines("failed, retry in");
    auto v = CompareWithTruth(p, synced, s.layout == Layout::kEmbedded);
    auto dead_letters = DeadLetters(p);
    const std::string buf =
        Fmt("%d rounds, %lld connection(s) terminated, %d message attempt(s) spent, seed %llu; to idle %.0f s", done,
            static_cast<long long>(terminated), failed_attempts, static_cast<unsigned long long>(seed), to_idle);
    Report(s.backend, "pg-terminate", v, dead_letters, MedianMax(recovery), buf + details);
    for (double r : recovery) EXPECT_LE(r, 20.0);
    // A dropped connection is replaced and the operation done again: no message pays for it.
    EXPECT_EQ(failed_attempts, 0) << "messages spent attempts on terminated connections";
    ExpectTruth(v);
    EXPECT_EQ(dead_letters, 0);
}

// ---- 5. malformed messages -------------------------------------------------------------------------

/// A malformed body and the dead-letter reason it must get.
struct Malformed {
    std::string body;
    std::string reason;
};

/// Every kind of malformed message an entity queue can receive (with `id` for "entityId": the
/// zKillboard queue's variants).
inline std::vector<Malformed> MalformedEntityMessages(const std::string& id = "entityId") {
    std::vector<Malformed> m = {
        {"", "bad_json"},
        {"not json at all", "bad_json"},
        {"{\"" + id + "\": 90000012", "bad_json"},                              // cut off
        {"{\"" + id + "\":90000012,\"source\":\"\xff\xfe\xc3\"}", "bad_json"},  // not UTF-8
        {"{\"" + id + "\":9000" + std::string(1, '\0') + "0012}", "bad_json"},  // a NUL byte
        {"{\"" + id + "\":90000012}}", "bad_json"},                             // trailing garbage
        {"[90000012]", "bad_field"},
        {"null", "bad_field"},
        {"\"90000012\"", "bad_field"},  // (a bare number is an id: the universe queues' form)
        {"0", "id_out_of_range"},
        {"-7", "id_out_of_range"},
        {"9007199254740993", "id_out_of_range"},
        {"12.5", "bad_field"},
        {"{}", "bad_field"},
        {"{\"" + id + "\":null}", "bad_field"},
        {"{\"" + id + "\":\"90000012\"}", "bad_field"},
        {"{\"" + id + "\":true}", "bad_field"},
        {"{\"" + id + "\":90000012.5}", "bad_field"},
        {"{\"" + id + "\":{\"id\":90000012}}", "bad_field"},
        {"{\"" + id + "\":0}", "id_out_of_range"},
        {"{\"" + id + "\":-90000012}", "id_out_of_range"},
        {"{\"" + id + "\":9007199254740993}", "id_out_of_range"},
        {"{\"" + id + "\":18446744073709551616}", "id_out_of_range"},
        {"{\"" + id + "\":1e300}", "id_out_of_range"},
        {"{\"" + id + "\":90000012,\"pad\":\"" + std::string(queue::kMaxBodyBytes, 'x') + "\"}", "too_large"},
        {std::string(30000, '[') + std::string(30000, ']'), "bad_field"},  // deeply nested, within the size limit
    };
    return m;
}

/// The zKillboard queue's own kinds, on top of the generic ones.
inline std::vector<Malformed> MalformedZkillboardJobs() {
    auto m = MalformedEntityMessages("characterId");
    for (auto& one : m) {  // a bare number is no zKillboard job, whatever its value
        if (json::parse(one.body, nullptr, false).is_number()) one.reason = "bad_field";
    }
    std::vector<Malformed> more = {
        {"90000012", "bad_field"},
        {"{\"characterId\":\"x\"}", "bad_field"},
        {"{\"userId\":null}", "bad_field"},
        {"{\"characterId\":90000012,\"page\":0}", "bad_field"},
        {"{\"characterId\":90000012,\"page\":\"2\"}", "bad_field"},
        {"{\"characterId\":90000012,\"page\":10001}", "bad_field"},
        {"{\"characterId\":90000012,\"chain\":7}", "bad_field"},
        {"{\"characterId\":90000012,\"chain\":\"\"}", "bad_field"},
        {"{\"characterId\":90000012,\"chain\":\"" + std::string(queue::kMaxChainKey + 1, 'c') + "\"}", "bad_field"},
        {"{\"characterId\":90000012,\"characterName\":5}", "bad_field"},
        {"{\"characterId\":90000012,\"userId\":\"me\"}", "bad_field"},
    };
    m.insert(m.end(), more.begin(), more.end());
    return m;
}

inline std::map<std::string, std::vector<Malformed>> MalformedByQueue() {
    std::map<std::string, std::vector<Malformed>> out;
    for (const auto& name : WorkQueues()) {
        out[name] = name == queue::kZkillboardCharacter ? MalformedZkillboardJobs() : MalformedEntityMessages();
    }
    return out;
}

/// Malformed messages of every kind on every queue, half before the workers start and half while
/// they work: each is dead-lettered with its reason, no process crashes, the rest completes.
inline void MalformedMessages(Pipeline& p, const Target& s) {
    const auto synced = QueueSync(p);
    const auto malformed = MalformedByQueue();
    auto q = OpenQueueOf(p);
    auto publish = [&](bool first_half) {
        for (const auto& [name, bodies] : malformed) {
            q->Declare(name);
            std::vector<queue::OutMessage> out;
            for (std::size_t i = first_half ? 0 : 1; i < bodies.size(); i += 2) out.push_back({bodies[i].body, 0, 0});
            q->Publish(name, out);
        }
    };
    publish(true);
    Fleet fleet(p, s.layout);
    const auto t_start = SteadyClock::now();
    fleet.StartAll();
    ASSERT_TRUE(WaitFor([&] { return fleet.Settled() > 20; }, milliseconds(60000))) << fleet.Logs();
    publish(false);
    std::string details;
    const double to_idle = DrainAlive(p, fleet, s, t_start, details);

    // Each malformed message is a dead letter with its reason; nothing else is.
    std::int64_t expected = 0, matched = 0, wrong_reason = 0, unexpected = 0;
    std::vector<std::string> problems;
    for (const auto& [name, bodies] : malformed) {
        std::multimap<std::string, std::string> want;  // body → reason
        for (const auto& m : bodies) want.emplace(m.body, m.reason);
        expected += static_cast<std::int64_t>(bodies.size());
        for (const auto& d : q->ListDead(name, 1000)) {
            auto it = want.find(d.body);
            if (it == want.end()) {
                ++unexpected;
                problems.push_back(name + ": unexpected dead letter (" + d.reason + ") " + d.body.substr(0, 80));
                continue;
            }
            if (it->second == d.reason && !d.last_error.empty()) {
                ++matched;
            } else {
                ++wrong_reason;
                problems.push_back(name + ": " + it->second + " expected, got " + d.reason + " (" + d.last_error +
                                   ") for " + d.body.substr(0, 80));
            }
            want.erase(it);
        }
        for (const auto& [body, reason] : want) {
            problems.push_back(name + ": not dead-lettered (" + reason + "): " + body.substr(0, 80));
        }
    }
    auto v = CompareWithTruth(p, synced, s.layout == Layout::kEmbedded);
    auto dead_letters = DeadLetters(p);
    const std::string buf =
        Fmt("%lld malformed on %zu queues: %lld dead-lettered with the expected reason, %lld with another, "
            "%lld unexpected; to idle %.0f s",
            static_cast<long long>(expected), malformed.size(), static_cast<long long>(matched),
            static_cast<long long>(wrong_reason), static_cast<long long>(unexpected), to_idle);
    Report(s.backend, "malformed-messages", v, dead_letters, "n/a (no restart)", buf + details);
    std::string list;
    for (const auto& pr : problems) list += "  " + pr + "\n";
    EXPECT_EQ(matched, expected) << list;
    EXPECT_EQ(dead_letters, expected) << list;
    ExpectTruth(v);
}

// ---- 6. ESI and zKillboard faults ------------------------------------------------------------------

/// 5xx answers, hung requests, truncated and garbage bodies on ESI and zKillboard, a 420 error-limit
/// storm mid-run, the killmail bucket emptied (429s for what is in flight) and zKillboard's rate
/// exceeded (429s): the work completes with nothing lost, duplicated or dead-lettered.
inline void EsiFaults(Pipeline& p, const Target& s) {
    const auto synced = QueueSync(p);
    auto& server = p.Server();
    // A short error window (the storm and the 5xx share cost pauses of one window, not a minute),
    // a small killmail bucket (429 + Retry-After when it runs dry), zKillboard at 2 requests/s.
    server.UpdateConfig({{"error_window_seconds", 10},
                         {"killmail_bucket_tokens", 300},
                         {"killmail_bucket_window_seconds", 3},
                         {"zkb_rate", 2}});
    auto f = server.Faults();
    f.error_share = 0.04;
    f.hang_share = 0.005;
    f.hang_ms = 2000;
    f.truncate_share = 0.03;
    f.garbage_share = 0.03;
    server.SetFaults(f);
    server.ResetStats();
    Fleet fleet(p, s.layout);
    const auto t_start = SteadyClock::now();
    fleet.StartAll();
    ASSERT_TRUE(WaitFor([&] { return fleet.Settled() > 20; }, milliseconds(90000))) << fleet.Logs();
    // Someone else on our IP empties the killmail bucket for a few seconds (killmail requests in
    // flight get 429 + Retry-After; the client, which learns the group's remaining tokens from
    // every answer, mostly holds the group instead: ESI's 429s are reported, not required), then
    // takes zKillboard's rate until a 429 came of it.
    auto count = [&](const char* what) { return server.Stats()[what].get<std::int64_t>(); };
    server.UpdateConfig({{"killmail_bucket_tokens", 2}});
    WaitFor([&] { return count("rate_limited_429") > 0; }, milliseconds(6000), milliseconds(100));
    server.UpdateConfig({{"killmail_bucket_tokens", 300}, {"zkb_rate", 0.2}});
    WaitFor([&] { return count("zkb_rate_limited_429") > 0; }, milliseconds(30000), milliseconds(100));
    server.UpdateConfig({{"zkb_rate", 2}});
    // A 420 storm (again if no request came during it: the workers may all have been paused).
    const int storm_s = Count(3, 15);
    const auto limited_before = count("error_limited_420");
    for (int storms = 0; storms < 5 && count("error_limited_420") == limited_before; ++storms) {
        server.StartErrorStorm(storm_s);
        SleepMs(storm_s * 1000);
    }
    const auto t_calm = SteadyClock::now();
    auto resumed = WaitProgress(fleet, fleet.Settled(), t_calm, milliseconds(90000));
    EXPECT_TRUE(resumed) << "no progress after the 420 storm\n" << fleet.Logs();
    std::string details;
    const double to_idle = DrainAlive(p, fleet, s, t_start, details);
    auto stats = server.Stats();
    server.ClearFaults();
    auto v = CompareWithTruth(p, synced, s.layout == Layout::kEmbedded);
    auto dead_letters = DeadLetters(p);
    const auto& fs = stats["faults"];
    const auto n = [&](const json& j) { return j.get<std::int64_t>(); };
    const std::string buf =
        Fmt("%lld ESI + %lld zKillboard requests: %lld 5xx, %lld hung, %lld truncated, %lld garbage, %lld 420, "
            "%lld ESI 429, %lld zKillboard 429; to idle %.0f s",
            static_cast<long long>(n(stats["esi_requests"])), static_cast<long long>(n(stats["zkb_requests"])),
            static_cast<long long>(n(fs["5xx"])), static_cast<long long>(n(fs["hang"])),
            static_cast<long long>(n(fs["truncated"])), static_cast<long long>(n(fs["garbage"])),
            static_cast<long long>(n(stats["error_limited_420"])), static_cast<long long>(n(stats["rate_limited_429"])),
            static_cast<long long>(n(stats["zkb_rate_limited_429"])), to_idle);
    Report(s.backend, "esi-faults", v, dead_letters, resumed ? Fmt("%.1f s after the 420 storm", *resumed) : "never",
           buf + details);
    // The faults did happen.
    EXPECT_GT(n(fs["5xx"]), 0);
    EXPECT_GT(n(fs["hang"]), 0);
    EXPECT_GT(n(fs["truncated"]), 0);
    EXPECT_GT(n(fs["garbage"]), 0);
    EXPECT_GT(n(stats["error_limited_420"]), 0);
    EXPECT_GT(n(stats["zkb_rate_limited_429"]), 0);
    ExpectTruth(v);
    EXPECT_EQ(dead_letters, 0);
}

}  // namespace kr::test::faults
