// End to end: `run --until-idle` with stderr not a terminal writes plain progress lines
// (KILLREPORT_PROGRESS_EVERY apart) whose counts grow, and whose last line counts every message
// the run's workers settled as they recorded it themselves (kr_worker_status via status --json).
#include <regex>
#include <set>

#include "e2e/pipeline_cases.hpp"

namespace kr::test {
namespace {

TEST(ProgressE2e, RunUntilIdleWritesPlainProgressLines) {
    char tmpl[] = "/tmp/kr_progress_e2e_XXXXXX";
    const std::string dir = ::mkdtemp(tmpl);
    Pipeline p({"sqlite://" + dir + "/kr.db", ""}, SmallUniverse());
    auto history = p.Get("/_admin/truth/history-characters");
    ASSERT_TRUE(history.is_array() && !history.empty());
    for (const auto& id : history) p.Kr("user:add " + std::to_string(id.get<Id>()));
    p.Kr("queue:character");
    auto r =
        RunCommand(p.Env() + "LOG_LEVEL=info KILLREPORT_PROGRESS_EVERY=0.2 KILLREPORT_UNIVERSE_CHECK=0 timeout 240 " +
                   KR_KILLREPORT_BIN " run --until-idle");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    static const std::regex line(R"(info    run --until-idle: (\d+)/(\d+) messages settled(?: \((\d+)%\))?, \d+/s)");
    std::vector<std::pair<std::int64_t, std::int64_t>> seen;
    for (std::sregex_iterator it(r.err.begin(), r.err.end(), line), end; it != end; ++it) {
        seen.emplace_back(std::stoll((*it)[1].str()), std::stoll((*it)[2].str()));
    }
    ASSERT_GE(seen.size(), 2u) << r.err;
    for (std::size_t i = 0; i < seen.size(); ++i) {
        EXPECT_LE(seen[i].first, seen[i].second) << i;
        if (i > 0) {
            EXPECT_GE(seen[i].first, seen[i - 1].first) << i;
        }
    }
    EXPECT_EQ(seen.back().first, seen.back().second);  // done
    EXPECT_NE(r.err.find(" (100%), "), std::string::npos) << r.err;
    // What the workers recorded as settled (each clean stop writes its final row).
    const auto st = nlohmann::json::parse(RunCommand(p.Env() + KR_KILLREPORT_BIN " status --json").out);
    std::int64_t settled = 0;
    for (const auto& w : st["workers"]) settled += w["settled"].get<std::int64_t>();
    EXPECT_GT(settled, 0);
    EXPECT_EQ(seen.back().first, settled) << r.err;
    std::system(("rm -rf '" + dir + "'").c_str());
}

/// The plain progress lines of `label` in a log: (done, total or -1) each.
std::vector<std::pair<std::int64_t, std::int64_t>> PublishedLines(const std::string& log, const std::string& label) {
    const std::regex line("info    " + label + R"(: (\d+)(?:/(\d+))? messages published(?: \(\d+%\))?, \d+/s)");
    std::vector<std::pair<std::int64_t, std::int64_t>> seen;  // total -1: none
    for (std::sregex_iterator it(log.begin(), log.end(), line), end; it != end; ++it) {
        seen.emplace_back(std::stoll((*it)[1].str()), (*it)[2].matched ? std::stoll((*it)[2].str()) : -1);
    }
    return seen;
}

// The queue scripts count what they publish (with the total where the script knows it: ESI's
// list), and a worker's debug line says what became of each message: outcome, HTTP status, time.
TEST(ProgressE2e, QueueScriptsCountWhatTheyPublishAndWorkersSayWhatBecameOfEachMessage) {
    char tmpl[] = "/tmp/kr_progress_e2e_XXXXXX";
    const std::string dir = ::mkdtemp(tmpl);
    Pipeline p({"sqlite://" + dir + "/kr.db", ""}, SmallUniverse());
    const std::size_t alliances = p.Get("/_admin/truth/alliances").size();
    const std::size_t systems = p.Get("/_admin/truth/solar-systems").size();
    ASSERT_GT(alliances, 0u);
    const std::string env = p.Env() + "LOG_LEVEL=info KILLREPORT_PROGRESS_EVERY=0 timeout 240 " KR_KILLREPORT_BIN " ";
    for (const auto& [script, expected] : std::vector<std::pair<std::string, std::size_t>>{
             {"queue:alliances", alliances}, {"queue:solar-systems", systems}}) {
        auto r = RunCommand(env + script);
        ASSERT_EQ(r.exit_code, 0) << r.err;
        const auto seen = PublishedLines(r.err, script);
        ASSERT_FALSE(seen.empty()) << r.err;
        EXPECT_EQ(seen.back(), std::make_pair(static_cast<std::int64_t>(expected), static_cast<std::int64_t>(expected)))
            << r.err;
        EXPECT_NE(r.out.find(script + ": " + std::to_string(expected) + " message(s) published"), std::string::npos)
            << r.out;
    }
    // Stored alliances are listed: the script without a total counts them all the same.
    auto w =
        RunCommand(p.Env() + "LOG_LEVEL=debug timeout 240 " KR_KILLREPORT_BIN " worker:info:alliances --until-idle");
    ASSERT_EQ(w.exit_code, 0) << w.err;
    static const std::regex stored(
        R"(esi_alliance_info_queue: \{[^\n]*"entityId":(\d+)[^\n]*\} -> stored \(HTTP 200\) in \d+\.\d ms)");
    std::set<Id> ids;
    for (std::sregex_iterator it(w.err.begin(), w.err.end(), stored), end; it != end; ++it) {
        ids.insert(std::stoll((*it)[1].str()));
    }
    EXPECT_EQ(ids.size(), alliances) << w.err.substr(0, 4000);
    auto again = RunCommand(env + "queue:alliance-corporations");
    ASSERT_EQ(again.exit_code, 0) << again.err;
    const auto seen = PublishedLines(again.err, "queue:alliance-corporations");
    ASSERT_FALSE(seen.empty()) << again.err;
    EXPECT_EQ(seen.back().first, static_cast<std::int64_t>(alliances)) << again.err;
    EXPECT_EQ(seen.back().second, -1) << again.err;  // it does not count its alliances first
    std::system(("rm -rf '" + dir + "'").c_str());
}

}  // namespace
}  // namespace kr::test
