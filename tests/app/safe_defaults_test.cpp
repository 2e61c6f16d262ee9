// Safe defaults (issue 16, item 5), through the killreport binary: the demo keeps off the
// configured database and broker, read-only commands create no database, an unreachable broker is
// one clear line within seconds (and no "consuming" before), unknown queue names are refused,
// numbers and typos get plain messages.
#include <chrono>
#include <filesystem>
#include <future>
#include <map>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "core/entity_kind.hpp"
#include "queue/queue.hpp"
#include "support/run.hpp"
#include "support/test_env.hpp"

namespace kr::test {

namespace {

const std::string kBin = KR_KILLREPORT_BIN;
/// killreport with none of the operator's settings, in `dir`.
std::string In(const std::string& dir) {
    return "cd '" + dir + "' && env -u DATABASE_URL -u RABBITMQ_URL -u LOG_LEVEL " + kBin + " ";
}

int Lines(const std::string& s) {
    int n = 0;
    for (char c : s) n += c == '\n';
    return n;
}

bool Has(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

/// Every file under `dir` with its contents.
std::map<std::string, std::string> Snapshot(const std::string& dir) {
    std::map<std::string, std::string> files;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
        if (e.is_regular_file()) files[e.path().string()] = Slurp(e.path().string());
    }
    return files;
}

std::vector<std::string> RegistryQueues() {
    std::vector<std::string> out;
    for (const auto& k : EntityKinds()) out.emplace_back(k.queue);
    out.emplace_back(queue::kAllianceCorporations);
    out.emplace_back(queue::kZkillboardCharacter);
    return out;
}

}  // namespace

TEST(SafeDefaults, ReadOnlyCommandsNeverCreateADatabase) {
    TempSqliteFile tmp;
    const std::string dir = tmp.Dir();
    for (const char* args : {"status", "dead:list", "dead:list esi_type_info_queue", "dead:retry esi_type_info_queue",
                             "--database-url sqlite:///tmp/kr-no-such-dir/k.db status"}) {
        auto r = RunCommand(In(dir) + args);
        EXPECT_EQ(r.exit_code, 1) << args << "\n" << r.err;
        EXPECT_EQ(Lines(r.err), 1) << args << "\n" << r.err;
        EXPECT_TRUE(Has(r.err, "killreport db:migrate")) << args << "\n" << r.err;
        EXPECT_TRUE(r.out.empty()) << args << "\n" << r.out;
    }
    auto r = RunCommand(In(dir) + "status");
    EXPECT_TRUE(Has(r.err, "no database at " + dir + "/killreport.db")) << r.err;
    EXPECT_TRUE(Has(r.err, "current directory")) << r.err;  // the default, said so
    auto named = RunCommand(In(dir) + "--database-url sqlite://" + dir + "/named.db dead:list");
    EXPECT_TRUE(Has(named.err, "no database at " + dir + "/named.db: create it with `killreport db:migrate`"))
        << named.err;
    auto config = RunCommand(In(dir) + "config");
    EXPECT_EQ(config.exit_code, 0) << config.err;
    EXPECT_TRUE(std::filesystem::is_empty(dir)) << "a read-only command wrote in " << dir;

    // A database without our schema is not migrated behind the operator's back either.
    RunCommand("touch '" + dir + "/empty.db'");
    auto bare = RunCommand(In(dir) + "--database-url sqlite://" + dir + "/empty.db status");
    EXPECT_EQ(bare.exit_code, 1);
    EXPECT_TRUE(Has(bare.err, "run `killreport db:migrate`")) << bare.err;
    EXPECT_EQ(RunCommand("sqlite3 '" + dir + "/empty.db' 'SELECT count(*) FROM sqlite_master'").out, "0\n");

    // Once created, they work.
    ASSERT_EQ(RunCommand(In(dir) + "db:migrate").exit_code, 0);
    auto status = RunCommand(In(dir) + "status");
    EXPECT_EQ(status.exit_code, 0) << status.err;
    EXPECT_TRUE(Has(status.out, "esi_type_info_queue")) << status.out;
    EXPECT_EQ(RunCommand(In(dir) + "dead:list").out, "no dead letters\n");
}

TEST(SafeDefaults, TheDemoLeavesTheConfiguredDatabaseAndBrokerAlone) {
    TempSqliteFile prod;  // the operator's database, exported
    TempSqliteFile here;  // where the demo runs
    const std::string prod_url = "sqlite://" + prod.Dir() + "/prod.db";
    ASSERT_EQ(RunCommand(In(prod.Dir()) + "--database-url " + prod_url + " db:migrate").exit_code, 0);
    ASSERT_EQ(
        RunCommand(In(prod.Dir()) + "--database-url " + prod_url + " user:add 95465499 --name 'CCP Falcon'").exit_code,
        0);
    const auto before = Snapshot(prod.Dir());
    // A broker nobody listens on: the demo would fail at once if it used it.
    auto r =
        RunCommand("cd '" + here.Dir() + "' && DATABASE_URL=" + prod_url +
                   " RABBITMQ_URL=amqp://guest:guest@127.0.0.1:1/ " + kBin + " demo --characters 1 --history-kills 10");
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_TRUE(Has(r.out, "database sqlite://" + here.Dir() + "/killreport-demo.db, queue in the database")) << r.out;
    EXPECT_TRUE(Has(r.out, "left alone")) << r.out;
    EXPECT_TRUE(std::filesystem::exists(here.Dir() + "/killreport-demo.db"));
    EXPECT_EQ(Snapshot(prod.Dir()), before) << "the demo wrote into the configured database";
    EXPECT_EQ(RunCommand("sqlite3 '" + prod.Dir() + "/prod.db' 'SELECT count(*) FROM users'").out, "1\n");
}

TEST(SafeDefaults, AnUnreachableBrokerIsOneClearLineWithinSecondsAndNothingConsumes) {
    TempSqliteFile tmp;
    ASSERT_EQ(RunCommand(In(tmp.Dir()) + "db:migrate").exit_code, 0);
    const std::vector<std::string> commands = {"status", "dead:list", "worker:info:types", "run",
                                               "queue:zkillboard 95465499"};
    std::vector<std::future<std::pair<RunResult, std::chrono::steady_clock::duration>>> runs;
    for (const auto& args : commands) {  // side by side: each waits out the connect timeout
        runs.push_back(std::async(std::launch::async, [&, args] {
            const auto t0 = std::chrono::steady_clock::now();
            auto r = RunCommand(In(tmp.Dir()) + "--rabbitmq-url amqp://guest:secret@127.0.0.1:1/ " + args);
            return std::make_pair(r, std::chrono::steady_clock::now() - t0);
        }));
    }
    for (std::size_t i = 0; i < commands.size(); ++i) {
        const auto& args = commands[i];
        auto [r, took] = runs[i].get();
        EXPECT_EQ(r.exit_code, 1) << args;
        EXPECT_LT(took, std::chrono::seconds(15)) << args;
        EXPECT_TRUE(Has(r.err, "cannot connect to RabbitMQ at amqp://guest:****@127.0.0.1:1/")) << args << r.err;
        EXPECT_TRUE(Has(r.err, "RABBITMQ_URL")) << r.err;
        EXPECT_FALSE(Has(r.err, "secret")) << r.err;
        EXPECT_FALSE(Has(r.err, "consuming")) << args << "\n" << r.err;
        EXPECT_TRUE(r.out.empty()) << args << "\n" << r.out;
    }
}

TEST(SafeDefaults, DeadLetterCommandsRefuseUnknownQueuesAndListTheKnownOnes) {
    TempSqliteFile tmp;
    for (const char* args : {"dead:retry bogus_queue", "dead:list bogus_queue"}) {
        auto r = RunCommand(In(tmp.Dir()) + args);
        EXPECT_EQ(r.exit_code, 2) << args;
        EXPECT_EQ(Lines(r.err), 1) << r.err;
        EXPECT_TRUE(Has(r.err, "unknown queue 'bogus_queue'")) << r.err;
        for (const auto& q : RegistryQueues()) EXPECT_TRUE(Has(r.err, q)) << q << " missing from: " << r.err;
    }
    auto near = RunCommand(In(tmp.Dir()) + "dead:retry esi_type_info_queue.dead");
    EXPECT_TRUE(Has(near.err, "did you mean esi_type_info_queue?")) << near.err;
    EXPECT_TRUE(std::filesystem::is_empty(tmp.Dir()));
}

TEST(SafeDefaults, NumbersAndTyposGetPlainMessages) {
    TempSqliteFile tmp;
    struct Case {
        const char* args;
        const char* says;
    };
    for (const Case& c : {Case{"queue:zkillboard abc", "killreport: error: not a character id: abc\n"},
                          Case{"queue:zkillboard 95465499 0", "killreport: error: not a character id: 0\n"},
                          Case{"user:add 12x", "killreport: error: not a character id: 12x\n"},
                          Case{"queue:solar-systems 0", "killreport: error: not a solar system id: 0\n"},
                          Case{"worker:info:types --concurrency many",
                               "killreport: error: --concurrency: not a whole number from 1 to 100000: many\n"},
                          Case{"dead:list --limit 0", "killreport: error: --limit: not a whole number"},
                          Case{"demo --characters x", "killreport: error: --characters: not a whole number"},
                          Case{"queue:alliance", "unknown command 'queue:alliance'; did you mean queue:alliances?"},
                          Case{"--log-level debug stauts", "did you mean status?"},
                          Case{"worker:info:char", "did you mean worker:info:characters?"}}) {
        auto r = RunCommand(In(tmp.Dir()) + c.args);
        EXPECT_EQ(r.exit_code, 2) << c.args;
        EXPECT_EQ(Lines(r.err), 1) << c.args << "\n" << r.err;
        EXPECT_TRUE(Has(r.err, c.says)) << c.args << "\n" << r.err;
        EXPECT_FALSE(Has(r.err, "not in range")) << r.err;
    }
    auto far = RunCommand(In(tmp.Dir()) + "xyzzy");
    EXPECT_FALSE(Has(far.err, "did you mean")) << far.err;
    EXPECT_TRUE(std::filesystem::is_empty(tmp.Dir()));
}

TEST(SafeDefaults, HelpTypesEveryNumberAsANumber) {
    auto top = RunCommand(kBin + " --help");
    ASSERT_EQ(top.exit_code, 0);
    std::vector<std::string> pages = {top.out};
    // Every subcommand's page too (names as --help lists them).
    bool in_subcommands = false;
    std::istringstream lines(top.out);
    for (std::string line; std::getline(lines, line);) {
        if (line == "Subcommands:") in_subcommands = true;
        if (!in_subcommands || line.rfind("  ", 0) != 0 || line.size() < 3 || line[2] == ' ') continue;
        const std::string name = line.substr(2, line.find(' ', 2) - 2);
        auto page = RunCommand(kBin + " " + name + " --help");
        EXPECT_EQ(page.exit_code, 0) << name;
        pages.push_back(page.out);
    }
    EXPECT_GT(pages.size(), 15u);
    // TEXT only where text is meant.
    const std::set<std::string> text_options = {"--user-agent", "--name"};
    for (const auto& page : pages) {
        std::istringstream in(page);
        for (std::string line; std::getline(in, line);) {
            if (!Has(line, " TEXT")) continue;
            const auto start = line.find_first_not_of(' ');
            const std::string option = line.substr(start, line.find(' ', start) - start);
            EXPECT_TRUE(text_options.count(option)) << "typed TEXT: " << line;
        }
    }
    for (const char* shown : {"--esi-rate-limit REQ/S", "--max-attempts N", "--max-age SECONDS", "--db-connections N",
                              "--outage-limit SECONDS"}) {
        EXPECT_TRUE(Has(top.out, shown)) << shown;
    }
    EXPECT_TRUE(Has(RunCommand(kBin + " run --help").out, "--concurrency N"));
    EXPECT_TRUE(Has(RunCommand(kBin + " queue:zkillboard --help").out, "ID ID ..."));
}

}  // namespace kr::test
