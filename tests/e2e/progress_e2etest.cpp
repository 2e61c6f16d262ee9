// End to end: `run --until-idle` with stderr not a terminal writes plain progress lines
// (KILLREPORT_PROGRESS_EVERY apart) whose counts grow, and whose last line counts every message
// the run's workers settled as they recorded it themselves (kr_worker_status via status --json).
#include <regex>

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

}  // namespace
}  // namespace kr::test
