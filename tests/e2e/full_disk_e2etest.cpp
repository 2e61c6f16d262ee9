// A disk that fills under the embedded default (issue 12, item 5): the database refuses writes,
// the workers wait without spinning or spamming the log, `--until-idle` gives up with the reason
// after KILLREPORT_OUTAGE_LIMIT, and a `run` resumes by itself when space returns — with the
// killmails compared to the simulator's truth afterwards.
//
// "Full" is the kernel's file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored) on the killreport
// process: its writes beyond the limit fail as on a full disk, the test needs no privileges and no
// mount, and prlimit(2) on the running process gives the space back.
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include <sys/resource.h>
#include <sys/wait.h>

#include "db/sqlite_connection.hpp"
#include "e2e/pipeline_cases.hpp"
#include "support/test_env.hpp"

extern char** environ;

namespace kr::test {
namespace {

using namespace std::chrono_literals;

/// The largest of the database's files now, plus `room` bytes, in ulimit's 512-byte blocks.
long LimitBlocks(const std::string& db_path, std::uintmax_t room) {
    std::uintmax_t largest = 0;
    for (const char* suffix : {"", "-wal", "-shm"}) {
        std::error_code ec;
        auto size = std::filesystem::file_size(db_path + suffix, ec);
        if (!ec) largest = std::max(largest, size);
    }
    return static_cast<long>((largest + room + 511) / 512);
}

/// `killreport ARGS` under a file-size limit, through /bin/sh (ulimit, trap), as one process:
/// the shell and env exec into killreport, so the pid is killreport's.
pid_t SpawnLimited(Pipeline& p, long blocks, const std::string& args, const std::string& log) {
    const std::string script = "trap '' XFSZ; ulimit -S -f " + std::to_string(blocks) + "; exec env " + p.Env() +
                               "KILLREPORT_OUTAGE_LIMIT=3 LOG_LEVEL=info " KR_KILLREPORT_BIN " " + args + " >" + log +
                               " 2>&1";
    std::string sh = "/bin/sh", c = "-c", s = script;
    char* argv[] = {sh.data(), c.data(), s.data(), nullptr};
    pid_t pid = 0;
    if (posix_spawn(&pid, "/bin/sh", nullptr, nullptr, argv, environ) != 0) return -1;
    return pid;
}

template <typename F>
bool WaitFor(F&& done, std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (done()) return true;
        std::this_thread::sleep_for(200ms);
    }
    return done();
}

std::set<Id> TruthKillmails(Pipeline& p, const json& characters) {
    std::set<Id> ids;
    for (const auto& c : characters) {
        for (const auto& km : p.Get("/_admin/truth/characters/" + std::to_string(c.get<Id>()) + "/killmails")) {
            ids.insert(km.get<Id>());
        }
    }
    return ids;
}

void ExpectExactlyTheTruth(Pipeline& p, const std::set<Id>& truth) {
    EXPECT_EQ(p.Count("SELECT count(*) FROM killmails"), static_cast<std::int64_t>(truth.size()));
    std::int64_t stored = 0;
    for (Id id : truth) stored += p.Count("SELECT count(*) FROM killmails WHERE killmail_id = $1", {id});
    EXPECT_EQ(stored, static_cast<std::int64_t>(truth.size())) << "killmails lost";
    EXPECT_EQ(p.Db().Exec("PRAGMA integrity_check").Text(0, 0), "ok");
}

class FullDisk : public ::testing::Test {
protected:
    FullDisk() : p_({file_.Url(), ""}, SmallUniverse()) {}
    void SetUp() override {
        characters_ = p_.Get("/_admin/truth/history-characters");
        ASSERT_TRUE(characters_.is_array() && !characters_.empty());
        std::string ids;
        for (const auto& c : characters_) ids += " " + std::to_string(c.get<Id>());
        p_.Kr("queue:zkillboard" + ids);
        truth_ = TruthKillmails(p_, characters_);
        ASSERT_GT(truth_.size(), 100u);
    }
    std::string DbPath() const { return db::SqliteConnection::PathFromUrl(file_.Url()); }

    TempSqliteFile file_;
    Pipeline p_;
    json characters_;
    std::set<Id> truth_;
};

TEST_F(FullDisk, UntilIdleGivesUpWithTheReasonAndTheNextRunCompletes) {
    const std::string log = file_.Dir() + "/run.log";
    const auto start = std::chrono::steady_clock::now();
    pid_t pid = SpawnLimited(p_, LimitBlocks(DbPath(), 64 * 1024), "run --until-idle", log);
    ASSERT_GT(pid, 0);
    int status = 0;
    ASSERT_TRUE(WaitFor([&] { return waitpid(pid, &status, WNOHANG) == pid; }, 90s)) << Slurp(log);
    const auto took = std::chrono::steady_clock::now() - start;
    const std::string out = Slurp(log);
    ASSERT_TRUE(WIFEXITED(status)) << out;
    EXPECT_EQ(WEXITSTATUS(status), 1) << out;
    EXPECT_NE(out.find("the database has refused writes for"), std::string::npos) << out;
    EXPECT_NE(out.find("giving up (--until-idle)"), std::string::npos) << out;
    // The outage is logged when it starts, once per worker thread, not once per poll.
    std::size_t warnings = 0;
    for (auto at = out.find("does not take writes"); at != std::string::npos;
         at = out.find("does not take writes", at + 1)) {
        ++warnings;
    }
    std::size_t threads = 0;  // one database queue per worker thread of `run`
    for (auto at = out.find(": consuming "); at != std::string::npos; at = out.find(": consuming ", at + 1)) ++threads;
    EXPECT_GE(warnings, 1u);
    EXPECT_LE(warnings, 2 * threads) << out;  // not one per poll (176 a second before)
    std::printf("until-idle on a full disk: exit %d after %.1f s, %zu outage warning(s)\n", WEXITSTATUS(status),
                std::chrono::duration<double>(took).count(), warnings);

    // Space is back: the next run takes over what the dead process held, at once.
    p_.Kr("run --until-idle");
    ExpectExactlyTheTruth(p_, truth_);
}

TEST_F(FullDisk, ARunResumesByItselfWhenSpaceReturns) {
    const std::string log = file_.Dir() + "/run.log";
    pid_t pid = SpawnLimited(p_, LimitBlocks(DbPath(), 64 * 1024), "run", log);
    ASSERT_GT(pid, 0);
    ASSERT_TRUE(WaitFor([&] { return Slurp(log).find("does not take writes") != std::string::npos; }, 60s))
        << Slurp(log);
    std::this_thread::sleep_for(2s);  // the outage lasts: nothing gives up without --until-idle
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, WNOHANG), 0) << "run exited during the outage:\n" << Slurp(log);
    const auto before = p_.Count("SELECT count(*) FROM killmails");
    const auto waiting = p_.Count("SELECT count(*) FROM kr_queue_messages");
    std::printf("during the outage: %lld of %zu killmails stored, %lld message(s) waiting\n",
                static_cast<long long>(before), truth_.size(), static_cast<long long>(waiting));
    ASSERT_LT(before, static_cast<std::int64_t>(truth_.size()));  // the outage hit mid-work

    rlimit unlimited{RLIM_INFINITY, RLIM_INFINITY};
    ASSERT_EQ(prlimit(pid, RLIMIT_FSIZE, &unlimited, nullptr), 0) << std::strerror(errno);
    const auto back = std::chrono::steady_clock::now();
    const bool done = WaitFor(
        [&] {
            return p_.Count("SELECT count(*) FROM killmails") == static_cast<std::int64_t>(truth_.size()) &&
                   p_.Count("SELECT count(*) FROM kr_queue_messages") == 0 &&
                   p_.Count("SELECT count(*) FROM kr_entity_outbox") == 0;
        },
        180s);
    const double resumed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - back).count();
    ::kill(pid, SIGTERM);
    ASSERT_TRUE(WaitFor([&] { return waitpid(pid, &status, WNOHANG) == pid; }, 15s)) << "no exit 15 s after SIGTERM";
    const std::string out = Slurp(log);
    ASSERT_TRUE(done) << out;
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
    EXPECT_NE(out.find("the database answers again after"), std::string::npos) << out;
    std::printf("run on a full disk: all work done %.1f s after space returned\n", resumed_s);
    ExpectExactlyTheTruth(p_, truth_);
}

}  // namespace
}  // namespace kr::test
