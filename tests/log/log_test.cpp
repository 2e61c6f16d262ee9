// LOG_FORMAT=json: one JSON object per line, parsed back — the summary lines' counters as fields —
// and what a real command writes with it.
#include "log/log.hpp"

#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "db/migrator.hpp"
#include "support/run.hpp"
#include "support/test_env.hpp"

namespace kr::test {
namespace {

using nlohmann::json;

TEST(JsonLine, ASummaryLinesCountersAreFields) {
    const auto j = json::parse(log::JsonLine(1'700'000'000'123, "info",
                                             "worker:info:characters: processed 40 (unchanged 25, not found 5) 6/s"));
    EXPECT_EQ(j["ts"], "2023-11-14T22:13:20.123Z");
    EXPECT_EQ(j["level"], "info");
    EXPECT_EQ(j["component"], "worker:info:characters");
    EXPECT_EQ(j["msg"], "worker:info:characters: processed 40 (unchanged 25, not found 5) 6/s");
    EXPECT_EQ(j["processed"], 40);
    EXPECT_EQ(j["unchanged"], 25);
    EXPECT_EQ(j["not_found"], 5);
    EXPECT_EQ(j["per_second"], 6);
    EXPECT_EQ(j.size(), 8u) << j.dump();
}

TEST(JsonLine, ATaggedLineAndPlainTextAndQuotes) {
    const auto done = json::parse(
        log::JsonLine(0, "info", "worker:zkillboard done: processed 3 (created 2, dead 1, published 7) 0/s"));
    EXPECT_EQ(done["component"], "worker:zkillboard");
    EXPECT_EQ(done["created"], 2);
    EXPECT_EQ(done["dead"], 1);
    EXPECT_EQ(done["published"], 7);
    // Numbers inside a sentence are not counters; quotes and control characters are escaped.
    const auto warn = json::parse(log::JsonLine(0, "warning", "ESI: group \"killmail\" paused for 720 s\t(429)"));
    EXPECT_EQ(warn["component"], "ESI");
    EXPECT_EQ(warn["level"], "warning");
    EXPECT_EQ(warn["msg"], "ESI: group \"killmail\" paused for 720 s\t(429)");
    EXPECT_EQ(warn.size(), 4u) << warn.dump();
    // No "component: " head: the first word.
    EXPECT_EQ(json::parse(log::JsonLine(0, "error", "oops"))["component"], "oops");
    // Bytes that are not UTF-8 do not break the line.
    EXPECT_NO_THROW(json::parse(log::JsonLine(0, "info", std::string("x: bad \xff byte"))));
}

/// Every stderr line of `killreport ARGS` with `env`; each must be one JSON object.
std::vector<json> JsonLines(const std::string& env, const std::string& args) {
    auto r = RunCommand(env + " " KR_KILLREPORT_BIN " " + args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<json> out;
    std::istringstream in(r.err);
    for (std::string line; std::getline(in, line);) {
        json j;
        EXPECT_NO_THROW(j = json::parse(line)) << line;
        if (!j.is_object()) continue;
        for (const char* k : {"ts", "level", "component", "msg"}) EXPECT_TRUE(j.contains(k)) << k << " " << line;
        out.push_back(j);
    }
    return out;
}

/// Lines of `text` that contain `needle`.
int LinesWith(const std::string& text, const std::string& needle) {
    std::istringstream in(text);
    int n = 0;
    for (std::string line; std::getline(in, line);) n += line.find(needle) != std::string::npos;
    return n;
}

// db:migrate's progress lines (stderr not a terminal) come every KILLREPORT_PROGRESS_EVERY seconds:
// with 0, one per step checked and the last one at 100 %; with the default (10 s), a quick
// migration prints none.
TEST(Progress, DbMigrateHonoursProgressEvery) {
    const auto steps = static_cast<int>(db::AllMigrations().size());
    TempSqliteFile every;
    const auto r = RunCommand("DATABASE_URL='" + every.Url() + "' LOG_LEVEL=info KILLREPORT_PROGRESS_EVERY=0 " +
                              KR_KILLREPORT_BIN " db:migrate");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(LinesWith(r.err, " steps checked"), steps + 1) << r.err;
    const std::string all = std::to_string(steps) + "/" + std::to_string(steps) + " steps checked (100%)";
    EXPECT_EQ(LinesWith(r.err, "db:migrate: " + all), 1) << r.err;
    TempSqliteFile quiet;
    const auto d = RunCommand("DATABASE_URL='" + quiet.Url() + "' LOG_LEVEL=info " KR_KILLREPORT_BIN " db:migrate");
    ASSERT_EQ(d.exit_code, 0) << d.err;
    EXPECT_EQ(LinesWith(d.err, " steps checked"), 0) << d.err;
}

TEST(LogFormat, JsonFromTheEnvironmentAndTheFlag) {
    TempSqliteFile file;
    const std::string env = "DATABASE_URL='" + file.Url() + "' LOG_LEVEL=info";
    ASSERT_EQ(RunCommand(env + " " KR_KILLREPORT_BIN " db:migrate").exit_code, 0);
    // `status --serve` logs where it serves (info), then runs until SIGTERM (exit 0).
    const std::string serve = "status --serve 127.0.0.1:0";
    const std::string timeout = " timeout --foreground --preserve-status -s TERM 1";
    const auto by_env = JsonLines(env + " LOG_FORMAT=json" + timeout, serve);
    ASSERT_FALSE(by_env.empty());
    EXPECT_EQ(by_env[0]["component"], "metrics");
    EXPECT_EQ(by_env[0]["level"], "info");
    const auto by_flag = JsonLines(env + timeout, "--log-format json " + serve);
    EXPECT_FALSE(by_flag.empty());
    const auto text = RunCommand(env + timeout + " " KR_KILLREPORT_BIN " " + serve);
    EXPECT_NE(text.err.find(" info    metrics: serving"), std::string::npos) << text.err;
    EXPECT_EQ(text.err.find('{'), std::string::npos) << text.err;
    // A command that fails says so in the format of its other lines: one JSON object, level error.
    const auto failed =
        RunCommand("DATABASE_URL='sqlite:///no/such/dir/k.db' LOG_FORMAT=json " KR_KILLREPORT_BIN " db:migrate");
    EXPECT_EQ(failed.exit_code, 1) << failed.err;
    const auto last = nlohmann::json::parse(failed.err.substr(failed.err.rfind('{')), nullptr, false);
    ASSERT_TRUE(last.is_object()) << failed.err;
    EXPECT_EQ(last["level"], "error");
    EXPECT_EQ(last["component"], "killreport");
    EXPECT_NE(last["msg"].get<std::string>().find("/no/such/dir"), std::string::npos) << failed.err;
    EXPECT_EQ(failed.err.find("killreport: error:"), std::string::npos) << failed.err;
    auto bad = RunCommand(env + " LOG_FORMAT=xml " KR_KILLREPORT_BIN " config");
    EXPECT_NE(bad.exit_code, 0);
    EXPECT_NE(bad.err.find("LOG_FORMAT='xml' is not one of text, json"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace kr::test
