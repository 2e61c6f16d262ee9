// `status --json` against a known state on the embedded default (SQLite: data, queue and budget in
// one file); status_pgtest.cpp runs the same on PostgreSQL + RabbitMQ.
#include <sstream>

#include "app/status_cases.hpp"
#include "support/test_env.hpp"

namespace kr::test {

TEST(Status, JsonTellsAKnownStateOnSqlite) {
    TempSqliteFile file;
    StatusJsonTellsAKnownState(file.Url(), "");
}

TEST(Status, JsonShowsTheWorkersOnSqlite) {
    TempSqliteFile file;
    StatusJsonShowsTheWorkers(file.Url());
}

TEST(Status, WatchRefreshesUntilStopped) {
    TempSqliteFile file;
    const std::string env = "DATABASE_URL='" + file.Url() + "' ";
    ASSERT_EQ(RunCommand(env + KR_KILLREPORT_BIN " db:migrate").exit_code, 0);
    // Three refreshes 0.2 s apart, then SIGTERM: one JSON line per refresh, exit 0 (no dead letters).
    // --foreground: timeout signals the command only, not its whole process group as well (two
    // SIGTERMs are "leave now", exit 130, when the handler runs between them).
    auto r = RunCommand(env + "timeout --foreground --preserve-status -s TERM 0.9 " KR_KILLREPORT_BIN
                              " status --watch --json --every 0.2");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    int lines = 0;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line); ++lines) {
        EXPECT_EQ(nlohmann::json::parse(line)["dead_letters"], 0) << line;
    }
    EXPECT_GE(lines, 2) << r.out;
}

}  // namespace kr::test
