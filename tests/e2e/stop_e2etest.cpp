// Stop in every state, end to end: the killreport binary on the embedded default (one SQLite file
// holds the data and the queue) against tools/fake-esi, SIGTERM while a worker is blocked in a
// fetch. It exits 0 within 10 s and the page it held is back on its queue as it was (attempt
// unchanged, not retried, not dead-lettered); a later run completes the sync.
#include <chrono>
#include <cstdio>
#include <functional>
#include <thread>

#include "e2e/pipeline_cases.hpp"
#include "support/test_env.hpp"

namespace kr::test {
namespace {

struct Stopped {
    int rc = -1;
    long ms = -1;  ///< from SIGTERM to the exit
    std::string err;
};

/// Runs `killreport ARGS` in the background; once `ready()` holds (polled for up to a minute),
/// sends it SIGTERM and waits for it to exit.
Stopped TermWhen(Pipeline& p, const std::string& args, const std::function<bool()>& ready) {
    char tmpl[] = "/tmp/kr_stop_XXXXXX";
    const std::string go = std::string(::mkdtemp(tmpl)) + "/go";
    RunResult r;
    std::thread run([&] {
        // (No `timeout` wrapper: it would signal the whole process group again, and a second
        // SIGTERM means "exit now".) A process still there 30 s after the signal is killed.
        r = RunCommand(p.Env() + KR_KILLREPORT_BIN " " + args + " & pid=$!; for i in $(seq 1200); do [ -e " + go +
                       " ] && break; sleep 0.05; done; start=$(date +%s%N); kill -TERM $pid; "
                       "for i in $(seq 600); do kill -0 $pid 2>/dev/null || break; sleep 0.05; done; "
                       "kill -KILL $pid 2>/dev/null; wait $pid; rc=$?; "
                       "echo \"$rc $(( ($(date +%s%N) - start) / 1000000 ))\"");
    });
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    while (!ready() && std::chrono::steady_clock::now() < give_up) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_TRUE(ready()) << "the worker never got into the state to stop in";
    std::fclose(std::fopen(go.c_str(), "w"));
    run.join();
    std::remove(go.c_str());
    std::remove(go.substr(0, go.size() - 3).c_str());
    Stopped s;
    s.err = r.err;
    EXPECT_EQ(std::sscanf(r.out.c_str(), "%d %ld", &s.rc, &s.ms), 2) << r.out << r.err;
    return s;
}

/// One sync job for the first history character, alone on zkillboard_character_queue.
Id QueueOneCharacter(Pipeline& p) {
    const Id character = p.Get("/_admin/truth/history-characters")[0].get<Id>();
    p.Kr("queue:zkillboard " + std::to_string(character));
    return character;
}

/// The page job is back on its queue untouched: ready, not leased, not retrying, not dead, attempt 0.
void ExpectPageHandedBack(Pipeline& p) {
    auto q = queue::OpenQueue(std::nullopt, p.GetBackend().database_url);
    q->Declare(queue::kZkillboardCharacter);
    auto s = q->Stats(queue::kZkillboardCharacter);
    EXPECT_EQ(s.ready, 1);
    EXPECT_EQ(s.unacked, 0);
    EXPECT_EQ(s.retrying, 0);
    EXPECT_EQ(s.dead, 0);
    q->Consume(queue::kZkillboardCharacter, 1);
    auto d = q->Poll(std::chrono::seconds(1), 1);
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0].attempt, 0);
    EXPECT_EQ(queue::ParseZkillboardJob(d[0].body).page.value_or(1), 1);
    q->Release(d[0]);
}

/// After the faults are gone, a run stores every killmail of the character's history.
void ExpectSyncCompletes(Pipeline& p, Id character) {
    p.Kr("run --until-idle");
    auto truth = p.Get("/_admin/truth/characters/" + std::to_string(character) + "/killmails");
    ASSERT_GT(truth.size(), 60u);  // several pages
    for (const auto& id : truth) {
        EXPECT_EQ(p.Count("SELECT count(*) FROM killmails WHERE killmail_id = $1", {id.get<Id>()}), 1) << id;
    }
}

TEST(StopSqlite, SigtermDuringAnEsiErrorLimitPauseMidPageExitsAtOnce) {
    TempSqliteFile file;
    Pipeline p({file.Url(), ""}, SmallUniverse());
    const Id character = QueueOneCharacter(p);
    p.Server().StartErrorStorm(120);  // every ESI route answers 420: the client pauses until the reset
    auto s = TermWhen(p, "run", [&] { return p.Server().Stats()["error_limited_420"].get<std::int64_t>() > 0; });
    EXPECT_EQ(s.rc, 0) << s.err;
    EXPECT_LT(s.ms, 10000) << s.err;
    ExpectPageHandedBack(p);
    p.Post("/_admin/reset-limits");
    ExpectSyncCompletes(p, character);
}

TEST(StopSqlite, SigtermWhileZkillboardHangsExitsAtOnce) {
    TempSqliteFile file;
    Pipeline p({file.Url(), ""}, SmallUniverse());
    const Id character = QueueOneCharacter(p);
    fakeesi::FaultConfig hang;
    hang.hang_share = 1.0;
    hang.hang_ms = 120000;
    hang.scope = "zkb";
    p.Server().SetFaults(hang);
    auto s =
        TermWhen(p, "worker:zkillboard", [&] { return p.Server().Stats()["faults"]["hang"].get<std::int64_t>() > 0; });
    EXPECT_EQ(s.rc, 0) << s.err;
    EXPECT_LT(s.ms, 10000) << s.err;
    p.Server().ClearFaults();
    ExpectPageHandedBack(p);
    ExpectSyncCompletes(p, character);
}

}  // namespace
}  // namespace kr::test
