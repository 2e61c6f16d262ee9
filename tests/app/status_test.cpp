// `status --json` against a known state on the embedded default (SQLite: data, queue and budget in
// one file); status_pgtest.cpp runs the same on PostgreSQL + RabbitMQ.
#include <httplib.h>
#include <signal.h>

#include <cstdio>
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

TEST(Status, ServeAnswersThePageAndExactlyStatusJson) {
    TempSqliteFile file;
    const std::string env = "DATABASE_URL='" + file.Url() + "' LOG_LEVEL=warn ";
    ASSERT_EQ(RunCommand(env + KR_KILLREPORT_BIN " db:migrate").exit_code, 0);
    {
        auto q = queue::OpenQueue(std::nullopt, file.Url());
        q->Declare("esi_type_info_queue");
        q->Publish("esi_type_info_queue", {{"{\"id\":7}"}});
        q->Consume("esi_type_info_queue", 1);
        auto d = q->Poll(std::chrono::seconds(10), 1);
        ASSERT_EQ(d.size(), 1u);
        q->DeadLetter(d[0], "page_reason", "page </script> error");
    }
    // The shell prints its pid, then becomes `status --serve` on a free port.
    FILE* proc = ::popen(
        ("sh -c 'echo $$; " + env + "exec " KR_KILLREPORT_BIN " status --serve 127.0.0.1:0 2>/dev/null'").c_str(), "r");
    ASSERT_NE(proc, nullptr);
    char line[512] = {};
    ASSERT_NE(std::fgets(line, sizeof line, proc), nullptr);
    const pid_t pid = std::stoi(line);
    ASSERT_NE(std::fgets(line, sizeof line, proc), nullptr);
    const std::string printed = line;
    const auto at = printed.find("http://127.0.0.1:");
    ASSERT_NE(at, std::string::npos) << printed;
    const int port = std::stoi(printed.substr(at + 17));
    httplib::Client http("127.0.0.1", port);

    // /status.json is `status --json` (but for when each was taken).
    auto served = http.Get("/status.json");
    ASSERT_TRUE(served && served->status == 200);
    auto cli = RunCommand(env + KR_KILLREPORT_BIN " status --json");
    EXPECT_EQ(cli.exit_code, 1);
    auto a = nlohmann::json::parse(served->body), b = nlohmann::json::parse(cli.out);
    a.erase("at");
    b.erase("at");
    EXPECT_EQ(a, b);
    EXPECT_EQ(a["dead"][0]["reason"], "page_reason");

    // The page: self-contained, with its data inline (a "</" in an error cannot end the script).
    for (const char* path : {"/", "/status"}) {
        auto page = http.Get(path);
        ASSERT_TRUE(page && page->status == 200) << path;
        EXPECT_NE(page->get_header_value("Content-Type").find("text/html"), std::string::npos);
        EXPECT_NE(page->body.find("<svg id=\"throughput\""), std::string::npos);
        EXPECT_NE(page->body.find("\"reason\":\"page_reason\""), std::string::npos);
        EXPECT_NE(page->body.find("page <\\/script> error"), std::string::npos);
        EXPECT_EQ(page->body.find("page </script>"), std::string::npos);
        EXPECT_EQ(page->body.find("src=\"http"), std::string::npos);
        EXPECT_EQ(page->body.find("href=\"http"), std::string::npos);
    }
    auto history = http.Get("/status/history.json");
    ASSERT_TRUE(history && history->status == 200);
    const auto h = nlohmann::json::parse(history->body);
    EXPECT_EQ(h["window_seconds"], 900);
    EXPECT_GE(h["samples"].size(), 1u);
    auto missing = http.Get("/nothing-here");
    ASSERT_TRUE(missing);
    EXPECT_EQ(missing->status, 404);

    ::kill(pid, SIGTERM);
    const int status = ::pclose(proc);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace kr::test
