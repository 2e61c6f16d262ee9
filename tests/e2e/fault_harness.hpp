#pragma once
// The fault suite's harness (issue 12, item 6): the real `killreport` binary as child processes
// against tools/fake-esi (in-process, with latency so that work is in flight), faults injected from
// outside (kill -9, broker restart, terminated database connections, malformed messages, ESI
// faults), and afterwards the final database compared with the simulator's ground truth.
//
// Layouts: kEmbedded = one `run` process (every worker; the queue in the database: the SQLite file,
// or PostgreSQL), kScaled = RabbitMQ + PostgreSQL with one process per worker. The workers log at
// debug level, one "<queue>: <body> -> <outcome> … in N ms" line per acked message (IsAckLine): a
// process has resumed work when its log has one.
//
// Each scenario prints one line (and appends it to $KR_FAULT_REPORT when set):
//   FAULT <backend> <scenario>: lost N, duplicated N, dead-lettered N, recovery … | details
// KR_FAULTS_LONG=1 raises the counts (more kills, terminations, a longer broker outage, more work);
// KR_FAULT_SEED=N replays a run's random moments (the seed is printed); the processes' logs are kept
// (and their directory printed) when a test fails or KR_FAULT_KEEP_LOGS=1.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "core/entity_kind.hpp"
#include "e2e/pipeline_cases.hpp"
#include "queue/queue.hpp"
#include "support/run.hpp"

namespace kr::test::faults {

/// A worker's debug line for a message it acked (worker::Settler::Ack): "<queue>: {…} -> <outcome>
/// [(HTTP n)] in N ms" — not the line of a message that failed ("-> retried: …", "-> dead-lettered:
/// …", "-> handed back: …", "-> acked: …").
inline bool IsAckLine(std::string_view line) {
    if (line.find(" debug ") == std::string_view::npos || line.size() < 3 || line.substr(line.size() - 3) != " ms") {
        return false;
    }
    const auto arrow = line.find("} -> ");
    if (arrow == std::string_view::npos) return false;
    const auto outcome = line.substr(arrow + 5);
    for (std::string_view failed : {"retried: ", "dead-lettered: ", "handed back: ", "acked: "}) {
        if (outcome.substr(0, failed.size()) == failed) return false;
    }
    return true;
}

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// ---- knobs ---------------------------------------------------------------------------------------

/// KR_FAULTS_LONG=1: the long variant (outside CI).
inline bool Long() {
    const char* v = std::getenv("KR_FAULTS_LONG");
    return v && std::string(v) == "1";
}

/// Default / long.
inline int Count(int normal, int long_run) { return Long() ? long_run : normal; }

/// KR_FAULT_SEED, or a fresh one; printed by each scenario so that a failure can be replayed.
inline std::uint64_t Seed() {
    if (const char* v = std::getenv("KR_FAULT_SEED"); v && *v) return std::strtoull(v, nullptr, 10);
    return std::random_device{}() % 1000000;
}

inline double SecondsSince(SteadyClock::time_point t) {
    return std::chrono::duration<double>(SteadyClock::now() - t).count();
}

/// printf into a std::string.
[[gnu::format(printf, 1, 2)]] inline std::string Fmt(const char* format, ...) {
    va_list args, again;
    va_start(args, format);
    va_copy(again, args);
    const int n = std::vsnprintf(nullptr, 0, format, args);
    va_end(args);
    std::string out(static_cast<std::size_t>(std::max(n, 0)) + 1, '\0');
    std::vsnprintf(out.data(), out.size(), format, again);
    va_end(again);
    out.pop_back();
    return out;
}

inline void SleepMs(std::int64_t ms) { std::this_thread::sleep_for(milliseconds(ms)); }

/// The port a process logged it serves `what` on ("<what>: serving http://127.0.0.1:PORT/…", as
/// `run --metrics-addr 127.0.0.1:0` logs its free port), 0 until it has.
inline int LoggedPort(const std::string& log, const std::string& what) {
    const std::regex re(what + R"(: serving http://127\.0\.0\.1:(\d+)/)");
    std::smatch m;
    return std::regex_search(log, m, re) ? std::stoi(m[1].str()) : 0;
}

/// Polls `done` every 25 ms for up to `limit`; true when it held.
inline bool WaitFor(const std::function<bool()>& done, milliseconds limit, milliseconds every = milliseconds(25)) {
    const auto end = SteadyClock::now() + limit;
    while (!done()) {
        if (SteadyClock::now() > end) return false;
        std::this_thread::sleep_for(every);
    }
    return true;
}

/// The simulator for the fault suite: the pipeline's small universe with long zKillboard histories
/// (`history_characters` of them, each on `history_kills` killmails of its own — the universe has
/// ten times as many killmails, so that the histories do not overlap — and a few shared ones:
/// several pages per character) and latency on every ESI and zKillboard request, so that a page's
/// killmails and the entities are in flight when a fault strikes.
inline fakeesi::Options FaultUniverse(int history_characters = 4, int history_kills = Count(120, 300)) {
    auto o = SmallUniverse();
    o.universe.characters = 300;
    o.universe.history_characters = history_characters;
    o.universe.history_kills = history_kills;
    o.universe.killmails = 10 * history_kills;
    o.zkb_page_size = 50;
    // ESI's killmail bucket (3600 tokens per 15 minutes, 2 per killmail) would hold the sync for
    // minutes once the kills' refetches and the long variant's killmails have used it up: only the
    // ESI-faults scenario runs into it, on purpose.
    o.killmail_bucket_tokens = 1'000'000;
    o.faults.latency_ms = 150;
    o.faults.latency_jitter_ms = 300;
    return o;
}

/// The kill -9 scenario's universe: more work, enough for its kills at random moments.
inline fakeesi::Options KillUniverse() { return FaultUniverse(Count(6, 10), Count(200, 500)); }

// ---- child processes -----------------------------------------------------------------------------

/// One `killreport …` child: started with fork + exec (killed with the test process: PDEATHSIG),
/// its stderr/stdout in a log file of its own per start.
class Proc {
public:
    Proc(std::string name, std::string command, std::string log_prefix)
        : name_(std::move(name)), command_(std::move(command)), log_prefix_(std::move(log_prefix)) {}
    ~Proc() { Kill(SIGKILL); }
    Proc(const Proc&) = delete;
    Proc& operator=(const Proc&) = delete;

    const std::string& Name() const { return name_; }
    pid_t Pid() const { return pid_; }
    int Starts() const { return starts_; }
    SteadyClock::time_point StartedAt() const { return started_at_; }
    std::string LogPath() const { return log_prefix_ + "." + name_ + "." + std::to_string(starts_) + ".log"; }

    void Start() {
        ++starts_;
        settled_ = 0;
        read_ = 0;
        partial_.clear();
        last_settle_ = {};
        exit_code_.reset();
        const std::string sh = "exec " + command_ + " >" + LogPath() + " 2>&1 </dev/null";
        const pid_t parent = ::getpid();
        pid_ = ::fork();
        if (pid_ == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (::getppid() != parent) ::_exit(127);
            ::execl("/bin/sh", "sh", "-c", sh.c_str(), static_cast<char*>(nullptr));
            ::_exit(127);
        }
        started_at_ = SteadyClock::now();
        ASSERT_GT(pid_, 0) << "fork failed";
    }

    /// Sends `sig`; SIGKILL also reaps it (a zombie would still look alive to a lease owner check).
    void Kill(int sig) {
        if (pid_ <= 0 || exit_code_) return;
        ::kill(pid_, sig);
        if (sig == SIGKILL) Wait(milliseconds(10000));
    }

    bool Running() { return pid_ > 0 && !Poll(); }

    /// The exit code (128 + signal), once it has exited; polls without blocking.
    std::optional<int> Poll() {
        if (exit_code_ || pid_ <= 0) return exit_code_;
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        return exit_code_;
    }
    std::optional<int> Wait(milliseconds limit) {
        WaitFor([&] { return Poll().has_value(); }, limit, milliseconds(10));
        return exit_code_;
    }

    /// Messages this start of the process acked so far (its "… done" debug lines).
    int Settled() {
        Scan();
        return settled_;
    }
    /// When it last acked a message (epoch when never since its start).
    SteadyClock::time_point LastSettle() {
        Scan();
        return last_settle_;
    }
    std::string Log() const { return Slurp(LogPath()); }
    /// The log's last lines, for failure messages.
    std::string LogTail(std::size_t lines = 25) const {
        auto text = Log();
        std::size_t pos = text.size();
        for (std::size_t n = 0; n <= lines && pos > 0; ++n) pos = text.rfind('\n', pos - 1);
        return text.substr(pos == std::string::npos ? 0 : pos);
    }
    /// Lines of this start's log containing `needle`.
    int CountLines(const std::string& needle) const {
        std::istringstream in(Log());
        int n = 0;
        for (std::string line; std::getline(in, line);) n += line.find(needle) != std::string::npos;
        return n;
    }

private:
    void Scan() {
        std::ifstream in(LogPath(), std::ios::binary);
        if (!in) return;
        in.seekg(static_cast<std::streamoff>(read_));
        std::string chunk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        read_ += chunk.size();
        partial_ += chunk;
        std::size_t start = 0;
        for (std::size_t nl; (nl = partial_.find('\n', start)) != std::string::npos; start = nl + 1) {
            std::string_view line(partial_.data() + start, nl - start);
            if (IsAckLine(line)) {
                ++settled_;
                last_settle_ = SteadyClock::now();
            }
        }
        partial_.erase(0, start);
    }

    std::string name_, command_, log_prefix_;
    pid_t pid_ = -1;
    int starts_ = 0;
    SteadyClock::time_point started_at_{};
    std::optional<int> exit_code_;
    int settled_ = 0;
    std::size_t read_ = 0;
    std::string partial_;
    SteadyClock::time_point last_settle_{};
};

enum class Layout {
    kEmbedded,  ///< one `run --until-idle` process; the queue in the database
    kScaled,    ///< RabbitMQ + PostgreSQL, one process per worker
};

/// The worker queues (the order of Fleet's scaled processes: zKillboard, the info workers, alliance
/// corporations).
inline std::vector<std::string> WorkQueues() {
    std::vector<std::string> out{queue::kZkillboardCharacter};
    for (const auto& k : EntityKinds()) out.push_back(k.queue);
    out.push_back(queue::kAllianceCorporations);
    return out;
}

/// The deployment under test: the processes of a layout, started, killed and restarted by the
/// scenario.
class Fleet {
public:
    Fleet(Pipeline& p, Layout layout) : p_(p), layout_(layout) {
        char tmpl[] = "/tmp/kr_fault_XXXXXX";
        dir_ = ::mkdtemp(tmpl);
        const std::string cmd =
            "env " + p.Env() + "LOG_LEVEL=debug KILLREPORT_USER_AGENT=kr-fault-test " + KR_KILLREPORT_BIN + " ";
        if (layout == Layout::kEmbedded) {
            Add("run", cmd + "run --until-idle", "");
        } else {
            Add("zkillboard", cmd + "worker:zkillboard", queue::kZkillboardCharacter);
            for (const auto& k : EntityKinds()) {
                std::string name = k.plural;  // "solar systems": a file name of one word
                std::replace(name.begin(), name.end(), ' ', '-');
                Add(name, cmd + k.command, k.queue);
            }
            Add("alliance-corporations", cmd + "worker:alliance-corporations", queue::kAllianceCorporations);
        }
    }
    ~Fleet() {
        procs_.clear();  // kills what still runs
        const char* keep = std::getenv("KR_FAULT_KEEP_LOGS");
        if (::testing::Test::HasFailure() || (keep && *keep)) {
            std::printf("the processes' logs: %s\n", dir_.c_str());
        } else {
            std::system(("rm -rf '" + dir_ + "'").c_str());
        }
    }

    Layout GetLayout() const { return layout_; }
    std::size_t Size() const { return procs_.size(); }
    Proc& At(std::size_t i) { return *procs_.at(i); }
    const std::string& QueueOf(std::size_t i) const { return queues_.at(i); }
    const std::string& Dir() const { return dir_; }

    void StartAll() {
        for (auto& proc : procs_) proc->Start();
    }
    /// Acks by every process's current start.
    int Settled() {
        int n = 0;
        for (auto& proc : procs_) n += proc->Settled();
        return n;
    }
    /// Names of processes that are no longer running, with their exit codes.
    std::string Exited() {
        std::string out;
        for (auto& proc : procs_) {
            if (auto rc = proc->Poll()) out += proc->Name() + " exited " + std::to_string(*rc) + "; ";
        }
        return out;
    }
    /// Processes that acked something within `window`.
    std::vector<std::size_t> Busy(milliseconds window) {
        std::vector<std::size_t> out;
        for (std::size_t i = 0; i < procs_.size(); ++i) {
            if (procs_[i]->Running() && SteadyClock::now() - procs_[i]->LastSettle() < window) out.push_back(i);
        }
        return out;
    }
    void KillAll(int sig) {
        for (auto& proc : procs_) proc->Kill(sig);
    }
    /// SIGTERM to all; the exit codes (-1: still running after 20 s, then killed).
    std::vector<int> TermAll() {
        KillAll(SIGTERM);
        std::vector<int> codes;
        for (auto& proc : procs_) {
            auto rc = proc->Wait(milliseconds(20000));
            if (!rc) proc->Kill(SIGKILL);
            codes.push_back(rc.value_or(-1));
        }
        return codes;
    }
    /// Log tails of every process (failure messages).
    std::string Logs(std::size_t lines = 15) {
        std::string out;
        for (auto& proc : procs_) out += "---- " + proc->LogPath() + "\n" + proc->LogTail(lines) + "\n";
        return out;
    }

private:
    void Add(std::string name, std::string command, std::string queue) {
        procs_.push_back(std::make_unique<Proc>(std::move(name), std::move(command), dir_ + "/kr"));
        queues_.push_back(std::move(queue));
    }

    Pipeline& p_;
    Layout layout_;
    std::string dir_;
    std::vector<std::unique_ptr<Proc>> procs_;
    std::vector<std::string> queues_;
};

// ---- the work and its truth ----------------------------------------------------------------------

/// Follows every history character and queues their zKillboard histories (queue:character).
inline std::vector<Id> QueueSync(Pipeline& p) {
    std::vector<Id> out;
    for (const auto& id : p.Get("/_admin/truth/history-characters")) {
        out.push_back(id.get<Id>());
        p.Kr("user:add " + std::to_string(out.back()));
    }
    p.Kr("queue:character");
    return out;
}

/// The final database against the simulator's truth for the synced characters.
struct Verdict {
    std::int64_t killmails = 0;         ///< the truth's killmails of the synced characters
    std::int64_t entities = 0;          ///< non-NPC entities they reference (deleted characters included)
    std::int64_t lost = 0;              ///< of those, not stored
    std::int64_t duplicated = 0;        ///< rows beyond the truth (attackers, items, …), killmails nobody asked for
    std::int64_t mismatched = 0;        ///< stored with other values than the truth's
    std::int64_t outbox = 0;            ///< kr_entity_outbox rows left (published enrichment is cleared)
    std::vector<std::string> problems;  ///< the first few, for the failure message

    void Problem(std::int64_t& counter, const std::string& what) {
        ++counter;
        if (problems.size() < 25) problems.push_back(what);
    }
    std::string Problems() const {
        std::string out;
        for (const auto& s : problems) out += "  " + s + "\n";
        return out;
    }
};

namespace detail {

/// id → count of rows, for one `SELECT killmail_id, count(*) … GROUP BY killmail_id`.
inline std::map<Id, std::int64_t> CountsBy(db::Connection& c, const std::string& table) {
    std::map<Id, std::int64_t> out;
    auto r = c.Exec("SELECT killmail_id, count(*) FROM " + table + " GROUP BY killmail_id");
    for (std::size_t i = 0; i < r.Rows(); ++i) out[r.Int(i, 0)] = r.Int(i, 1);
    return out;
}

/// id → the row's cells, for `SELECT id, … FROM table`.
inline std::map<Id, std::vector<std::optional<std::string>>> RowsById(db::Connection& c, const std::string& sql) {
    std::map<Id, std::vector<std::optional<std::string>>> out;
    auto r = c.Exec(sql);
    for (std::size_t i = 0; i < r.Rows(); ++i) {
        auto& row = out[r.Int(i, 0)];
        for (std::size_t col = 1; col < r.Columns(); ++col) row.push_back(r.Cell(i, col));
    }
    return out;
}

inline std::optional<std::string> TruthText(const json& t, const char* key) {
    if (!t.contains(key) || t[key].is_null()) return std::nullopt;
    return t[key].is_string() ? t[key].get<std::string>() : t[key].dump();
}
inline bool SameNumber(const std::optional<std::string>& stored, const json& t, const char* key) {
    const bool has = t.contains(key) && !t[key].is_null();
    if (!stored || !has) return !stored && !has;
    return std::abs(std::stod(*stored) - t[key].get<double>()) < 1e-9;
}

}  // namespace detail

/// Compares every killmail of the synced characters and every entity they reference (characters,
/// corporations, alliances, types; each killmail's solar system with its constellation and region)
/// with the truth (the pipeline test's checks, counted instead of asserted so that the scenario can
/// report them), using a connection of its own. `whole_universe`: `run` synced the universe, so
/// every region, constellation and system must be stored.
inline Verdict CompareWithTruth(Pipeline& p, const std::vector<Id>& synced, bool whole_universe) {
    Verdict v;
    auto db = db::Open(p.GetBackend().database_url);
    std::set<Id> killmail_ids;
    for (Id c : synced) {
        for (const auto& km : p.Get("/_admin/truth/characters/" + std::to_string(c) + "/killmails")) {
            killmail_ids.insert(km.get<Id>());
        }
    }
    v.killmails = static_cast<std::int64_t>(killmail_ids.size());
    auto stored =
        detail::RowsById(*db, "SELECT killmail_id, killmail_hash, solar_system_id, attacker_count FROM killmails");
    auto victims = detail::RowsById(
        *db, "SELECT killmail_id, character_id, corporation_id, alliance_id, ship_type_id, damage_taken FROM victims");
    auto attackers = detail::CountsBy(*db, "attackers");
    auto items = detail::CountsBy(*db, "killmail_items");
    auto children = detail::CountsBy(*db, "kr_killmail_item_children");
    for (const auto& [id, row] : stored) {
        if (!killmail_ids.count(id)) v.Problem(v.duplicated, "killmail " + std::to_string(id) + " nobody synced");
    }
    std::set<Id> characters, corporations, alliances, types, systems;
    auto excess = [&](std::int64_t have, std::int64_t want, const std::string& what) {
        if (have > want)
            v.Problem(v.duplicated,
                      what + ": " + std::to_string(have) + " rows, " + std::to_string(want) + " expected");
        if (have < want)
            v.Problem(v.lost, what + ": " + std::to_string(have) + " rows, " + std::to_string(want) + " expected");
    };
    auto get = [](const std::map<Id, std::int64_t>& m, Id id) {
        auto it = m.find(id);
        return it == m.end() ? std::int64_t{0} : it->second;
    };
    for (Id kid : killmail_ids) {
        auto truth = p.Truth("killmail", kid);
        const auto& km = truth["killmail"];
        const auto& vic = km["victim"];
        std::int64_t top = 0, nested = 0;
        if (vic.contains("items")) CollectItemTypes(vic["items"], types, top, nested, 0);
        auto refer = [&](const json& who) {
            if (auto c = OptId(who, "character_id"); c && ShouldFetch(EntityKind::kCharacter, *c))
                characters.insert(*c);
            if (auto c = OptId(who, "corporation_id")) corporations.insert(*c);
            if (auto a = OptId(who, "alliance_id")) alliances.insert(*a);
        };
        refer(vic);
        types.insert(vic["ship_type_id"].get<Id>());
        systems.insert(km["solar_system_id"].get<Id>());
        for (const auto& a : km["attackers"]) {
            refer(a);
            if (auto t = OptId(a, "ship_type_id")) types.insert(*t);
            if (auto t = OptId(a, "weapon_type_id")) types.insert(*t);
        }
        const std::string name = "killmail " + std::to_string(kid);
        auto it = stored.find(kid);
        if (it == stored.end()) {
            v.Problem(v.lost, name + " not stored");
            continue;
        }
        const auto& row = it->second;
        if (row[0] != truth["hash"].get<std::string>() || row[1] != detail::TruthText(km, "solar_system_id") ||
            row[2] != std::to_string(km["attackers"].size())) {
            v.Problem(v.mismatched, name + ": hash, system or attacker count differ");
        }
        auto vr = victims.find(kid);
        if (vr == victims.end()) {
            v.Problem(v.lost, name + ": no victim row");
        } else if (vr->second[0] != detail::TruthText(vic, "character_id") ||
                   vr->second[1] != detail::TruthText(vic, "corporation_id") ||
                   vr->second[2] != detail::TruthText(vic, "alliance_id") ||
                   vr->second[3] != detail::TruthText(vic, "ship_type_id") ||
                   vr->second[4] != detail::TruthText(vic, "damage_taken")) {
            v.Problem(v.mismatched, name + ": victim differs");
        }
        excess(get(attackers, kid), static_cast<std::int64_t>(km["attackers"].size()), name + " attackers");
        excess(get(items, kid), top, name + " items");
        excess(get(children, kid), nested, name + " nested items");
    }

    auto chars = detail::RowsById(
        *db, "SELECT id, name, corporation_id, alliance_id, security_status, title, faction_id FROM characters");
    for (Id id : characters) {
        ++v.entities;
        auto t = p.Truth("character", id);
        auto it = chars.find(id);
        const std::string name = "character " + std::to_string(id);
        if (t.is_null()) {  // deleted on ESI: remembered as a 404, not stored
            if (it != chars.end()) v.Problem(v.mismatched, name + " is deleted on ESI but stored");
            continue;
        }
        if (it == chars.end()) {
            v.Problem(v.lost, name + " not stored");
            continue;
        }
        const auto& r = it->second;
        if (r[0] != detail::TruthText(t, "name") || r[1] != detail::TruthText(t, "corporation_id") ||
            r[2] != detail::TruthText(t, "alliance_id") || !detail::SameNumber(r[3], t, "security_status") ||
            r[4] != detail::TruthText(t, "title") || r[5] != detail::TruthText(t, "faction_id")) {
            v.Problem(v.mismatched, name + " differs from the truth");
        }
    }
    auto corps = detail::RowsById(
        *db, "SELECT id, name, ticker, member_count, ceo_id, alliance_id, faction_id, tax_rate FROM corporations");
    for (Id id : corporations) {
        ++v.entities;
        auto t = p.Truth("corporation", id);
        auto it = corps.find(id);
        const std::string name = "corporation " + std::to_string(id);
        if (it == corps.end()) {
            v.Problem(v.lost, name + " not stored");
            continue;
        }
        const auto& r = it->second;
        if (r[0] != detail::TruthText(t, "name") || r[1] != detail::TruthText(t, "ticker") ||
            r[2] != detail::TruthText(t, "member_count") || r[3] != detail::TruthText(t, "ceo_id") ||
            r[4] != detail::TruthText(t, "alliance_id") || r[5] != detail::TruthText(t, "faction_id") ||
            !detail::SameNumber(r[6], t, "tax_rate")) {
            v.Problem(v.mismatched, name + " differs from the truth");
        }
    }
    auto alls = detail::RowsById(*db, "SELECT id, name, ticker, executor_corporation_id, creator_id FROM alliances");
    for (Id id : alliances) {
        ++v.entities;
        auto t = p.Truth("alliance", id);
        auto it = alls.find(id);
        const std::string name = "alliance " + std::to_string(id);
        if (it == alls.end()) {
            v.Problem(v.lost, name + " not stored");
            continue;
        }
        const auto& r = it->second;
        if (r[0] != detail::TruthText(t, "name") || r[1] != detail::TruthText(t, "ticker") ||
            r[2] != detail::TruthText(t, "executor_corporation_id") || r[3] != detail::TruthText(t, "creator_id")) {
            v.Problem(v.mismatched, name + " differs from the truth");
        }
    }
    auto typs = detail::RowsById(*db, "SELECT id, name, group_id FROM types");
    for (Id id : types) {
        ++v.entities;
        auto t = p.Truth("type", id);
        auto it = typs.find(id);
        const std::string name = "type " + std::to_string(id);
        if (it == typs.end()) {
            v.Problem(v.lost, name + " not stored");
            continue;
        }
        if (it->second[0] != detail::TruthText(t, "name") || it->second[1] != detail::TruthText(t, "group_id")) {
            v.Problem(v.mismatched, name + " differs from the truth");
        }
    }
    auto sys = detail::RowsById(
        *db,
        "SELECT s.system_id, s.name, s.constellation_id, c.region_id, r.region_id FROM solar_systems s "
        "LEFT JOIN constellations c ON c.constellation_id = s.constellation_id "
        "LEFT JOIN regions r ON r.region_id = c.region_id");
    for (Id id : systems) {
        auto t = p.Truth("solar-system", id);
        if (t.is_null()) continue;  // a sample killmail's real system, not on the simulator's map
        ++v.entities;
        auto it = sys.find(id);
        const std::string name = "solar system " + std::to_string(id);
        if (it == sys.end()) {
            v.Problem(v.lost, name + " not stored");
            continue;
        }
        const auto& r = it->second;
        if (r[0] != detail::TruthText(t, "name") || r[1] != detail::TruthText(t, "constellation_id")) {
            v.Problem(v.mismatched, name + " differs from the truth");
        }
        if (!r[2]) v.Problem(v.lost, name + ": its constellation is not stored");
        if (r[2] && !r[3]) v.Problem(v.lost, name + ": its region is not stored");
    }
    if (whole_universe) {
        for (const auto& [what, table] :
             {std::pair{"regions", "regions"}, std::pair{"constellations", "constellations"},
              std::pair{"solar-systems", "solar_systems"}}) {
            const auto want = static_cast<std::int64_t>(p.Get(std::string("/_admin/truth/") + what).size());
            const auto have = db->Exec(std::string("SELECT count(*) FROM ") + table).Int(0, 0);
            v.entities += want;
            if (have < want) {
                v.lost += want - have;
                v.Problem(v.lost, std::string(table) + ": " + std::to_string(have) + " of " + std::to_string(want));
                --v.lost;
            }
        }
    }
    v.outbox = db->Exec("SELECT count(*) FROM kr_entity_outbox").Int(0, 0);
    return v;
}

/// Dead letters on every worker queue.
inline std::int64_t DeadLetters(Pipeline& p) {
    const auto& b = p.GetBackend();
    auto q = queue::OpenQueue(b.rabbitmq_url.empty() ? std::nullopt : std::optional(b.rabbitmq_url), b.database_url);
    std::int64_t n = 0;
    for (const auto& name : WorkQueues()) {
        q->Declare(name);
        n += q->Stats(name).dead;
    }
    return n;
}

/// Work left on the worker queues (ready or waiting for a retry; leased too on the database
/// queue) — what keeps `--until-idle` from stopping.
inline std::int64_t Pending(queue::Queue& q) {
    std::int64_t n = 0;
    for (const auto& name : WorkQueues()) {
        auto s = q.Stats(name);
        n += s.ready + s.retrying + std::max<std::int64_t>(0, s.unacked);
    }
    return n;
}

/// Median and maximum of a list of seconds ("-" when empty).
inline std::string MedianMax(std::vector<double> s) {
    if (s.empty()) return "-";
    std::sort(s.begin(), s.end());
    return Fmt("%.1f s median, %.1f s max over %zu", s[s.size() / 2], s.back(), s.size());
}

/// The scenario's one line: printed, appended to $KR_FAULT_REPORT, recorded as a gtest property.
inline void Report(const std::string& backend, const std::string& scenario, const Verdict& v, std::int64_t dead,
                   const std::string& recovery, const std::string& details) {
    std::string line =
        Fmt("FAULT %-8s %-20s lost %lld, duplicated %lld, dead-lettered %lld, recovery %s | %s", backend.c_str(),
            scenario.c_str(), static_cast<long long>(v.lost), static_cast<long long>(v.duplicated),
            static_cast<long long>(dead), recovery.c_str(), details.c_str());
    if (v.mismatched) line += " | MISMATCHED " + std::to_string(v.mismatched);
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
    if (const char* path = std::getenv("KR_FAULT_REPORT"); path && *path) {
        std::ofstream(path, std::ios::app) << line << "\n";
    }
    ::testing::Test::RecordProperty("fault_report", line);
}

/// The checks every scenario ends with: the truth, nothing lost or duplicated or different, the
/// outbox drained (all enrichment was published: no scan:entities needed).
inline void ExpectTruth(const Verdict& v) {
    EXPECT_GT(v.killmails, 150);
    EXPECT_GT(v.entities, 100);
    EXPECT_EQ(v.lost, 0) << v.Problems();
    EXPECT_EQ(v.duplicated, 0) << v.Problems();
    EXPECT_EQ(v.mismatched, 0) << v.Problems();
    EXPECT_EQ(v.outbox, 0) << "enrichment recorded and never published";
}

}  // namespace kr::test::faults
