// The killreport binary's handling of bad input and its config command.
#include <filesystem>

#include <gtest/gtest.h>

#include "config/config.hpp"
#include "core/errors.hpp"
#include "support/run.hpp"
#include "support/test_env.hpp"
#include "worker/runtime.hpp"

namespace kr::test {

namespace {
const std::string kBin = KR_KILLREPORT_BIN;

int Lines(const std::string& s) {
    int n = 0;
    for (char c : s) n += c == '\n';
    return n;
}

/// Bad input: one clear error line, a non-zero exit, nothing written.
void ExpectOneLineError(const std::string& args, const std::string& needle, const std::string& dir) {
    auto r = RunCommand("cd '" + dir + "' && " + kBin + " " + args);
    EXPECT_NE(r.exit_code, 0) << args;
    EXPECT_LT(r.exit_code, 128) << "crashed: " << args;
    EXPECT_EQ(Lines(r.err), 1) << args << "\n" << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << args << "\n" << r.err;
    EXPECT_EQ(r.err.find("terminate"), std::string::npos);
    EXPECT_TRUE(std::filesystem::is_empty(dir)) << "something was written for: " << args;
}
}  // namespace

TEST(Cli, BadInputGivesOneLineAndNonZeroExit) {
    TempSqliteFile tmp;  // an empty directory to run in
    ExpectOneLineError("no-such-command", "unknown command 'no-such-command'", tmp.Dir());
    ExpectOneLineError("status --no-such-flag", "--no-such-flag", tmp.Dir());
    ExpectOneLineError("--database-url mysql://u:secret@h/d db:migrate", "not supported", tmp.Dir());
    ExpectOneLineError("--database-url postgresql://u:secret@127.0.0.1:1/x db:migrate", "cannot connect", tmp.Dir());
    ExpectOneLineError("--database-url sqlite:///no/such/dir/k.db db:migrate", "/no/such/dir", tmp.Dir());
    ExpectOneLineError("--esi-rate-limit fast config", "ESI_RATE_LIMIT", tmp.Dir());
    ExpectOneLineError("--rabbitmq-url http://x config", "RABBITMQ_URL", tmp.Dir());
    // secrets never reach the terminal
    auto r = RunCommand(kBin + " --database-url postgresql://u:secret@127.0.0.1:1/x db:migrate");
    EXPECT_EQ(r.err.find("secret"), std::string::npos) << r.err;
}

TEST(Cli, HelpListsTheSpecCommandNames) {
    auto r = RunCommand(kBin + " --help");
    EXPECT_EQ(r.exit_code, 0);
    for (const char* name : {"db:migrate", "config", "status", "user:add", "dead:list", "dead:retry"}) {
        EXPECT_NE(r.out.find(name), std::string::npos) << name;
    }
    auto sub = RunCommand(kBin + " db:migrate --help");
    EXPECT_EQ(sub.exit_code, 0);
    EXPECT_NE(sub.out.find("killreport db:migrate"), std::string::npos) << sub.out;
}

TEST(Cli, DeriveRebuildRunsOnAMigratedDatabaseOnly) {
    TempSqliteFile tmp;
    ExpectOneLineError("derive:rebuild --from 2025-02-30", "--from: not a day (YYYY-MM-DD): 2025-02-30", tmp.Dir());
    ExpectOneLineError("--database-url " + tmp.Url() + " derive:rebuild", "killreport db:migrate", tmp.Dir());
    ASSERT_EQ(RunCommand(kBin + " --database-url " + tmp.Url() + " db:migrate").exit_code, 0);
    auto r = RunCommand(kBin + " --database-url " + tmp.Url() + " derive:rebuild --from 2025-01-02");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("derived tables rebuilt from 2025-01-02: 0 killmail_filters row(s), 0 kill-stats row(s)"),
              std::string::npos)
        << r.out;
}

TEST(Cli, UserAddReportsATrackedCharacterUserListAndRemove) {
    TempSqliteFile tmp;
    const std::string kr = kBin + " --database-url " + tmp.Url() + " ";
    ExpectOneLineError("--database-url " + tmp.Url() + " user:list", "killreport db:migrate", tmp.Dir());
    ASSERT_EQ(RunCommand(kr + "user:add 95465499 --name 'CCP Falcon'").exit_code, 0);
    auto again = RunCommand(kr + "user:add 95465499 --name 'Someone Else'");
    EXPECT_EQ(again.exit_code, 0) << again.err;
    EXPECT_NE(again.out.find("character 95465499 is already tracked as \"CCP Falcon\": left as it is"),
              std::string::npos)
        << again.out;
    ASSERT_EQ(RunCommand(kr + "user:add 90000001 --name Pilot").exit_code, 0);
    auto list = RunCommand(kr + "user:list");
    EXPECT_EQ(list.exit_code, 0) << list.err;
    EXPECT_EQ(list.out, "90000001  Pilot\n95465499  CCP Falcon\n");
    auto removed = RunCommand(kr + "user:remove 95465499");
    EXPECT_EQ(removed.exit_code, 0) << removed.err;
    EXPECT_EQ(removed.out, "character 95465499 is no longer tracked\n");
    auto gone = RunCommand(kr + "user:remove 95465499");
    EXPECT_EQ(gone.exit_code, 1);
    EXPECT_EQ(gone.err, "killreport: error: character 95465499 is not tracked (see `killreport user:list`)\n");
    EXPECT_EQ(RunCommand(kr + "user:list").out, "90000001  Pilot\n");
}

TEST(Cli, ConfigShowsSourcesAndMasksPasswords) {
    auto r = RunCommand("DATABASE_URL=postgresql://kr:hunter2@db.example:5432/kr ESI_RATE_LIMIT=20 " + kBin +
                        " --esi-rate-limit 30 config");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out.find("hunter2"), std::string::npos);
    EXPECT_NE(r.out.find("DATABASE_URL = postgresql://kr:****@db.example:5432/kr  (environment)"), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("ESI_RATE_LIMIT = 30 req/s  (flag)"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("ZKILLBOARD_BASE_URL = https://zkillboard.com/api  (default)"), std::string::npos) << r.out;
}

TEST(Config, PrecedenceAndDefaults) {
    std::map<std::string, std::string> env{{"ESI_RATE_LIMIT", "20"}, {"RABBITMQ_URL", "amqp://g:g@h/"}};
    config::Overrides flags;
    flags.values["ESI_RATE_LIMIT"] = "7";
    auto c = config::Load(flags, &env);
    EXPECT_DOUBLE_EQ(c.esi_rate_limit, 7);
    EXPECT_EQ(c.sources.at("ESI_RATE_LIMIT"), config::Source::kFlag);
    ASSERT_TRUE(c.rabbitmq_url.has_value());
    EXPECT_EQ(c.sources.at("RABBITMQ_URL"), config::Source::kEnv);
    EXPECT_FALSE(c.UsesPostgres());
    EXPECT_EQ(c.database_url.rfind("sqlite://", 0), 0u);
    EXPECT_NE(c.database_url.find("killreport.db"), std::string::npos);
    // SQLite with RabbitMQ: a commit is synced before the broker's ack (db/sqlite_connection.hpp).
    EXPECT_EQ(c.database_url.substr(c.database_url.size() - 17), "?synchronous=full");
    std::map<std::string, std::string> embedded{};
    EXPECT_EQ(config::Load({}, &embedded).database_url.find('?'), std::string::npos);
    EXPECT_EQ(c.esi_base_url, "https://esi.evetech.net");
    EXPECT_EQ(c.sources.at("ESI_BASE_URL"), config::Source::kDefault);
    EXPECT_NE(c.user_agent.find("killreport"), std::string::npos);
    std::map<std::string, std::string> bad{{"DATABASE_URL", "postgresql://"}};
    EXPECT_THROW(config::Load({}, &bad), FatalError);
    std::map<std::string, std::string> pg{{"DATABASE_URL", "postgres://u@h/d"}, {"ESI_BASE_URL", "http://x/"}};
    auto p = config::Load({}, &pg);
    EXPECT_TRUE(p.UsesPostgres());
    EXPECT_EQ(p.esi_base_url, "http://x");
}

TEST(Config, DeriveIsOnUnlessTurnedOff) {
    std::map<std::string, std::string> none{};
    EXPECT_TRUE(config::Load({}, &none).derive);
    std::map<std::string, std::string> off{{"KILLREPORT_DERIVE", "0"}};
    const auto c = config::Load({}, &off);
    EXPECT_FALSE(c.derive);
    EXPECT_FALSE(worker::StoreOptionsOf(c).derive);  // what the workers' stores are opened with
    EXPECT_TRUE(worker::StoreOptionsOf(config::Load({}, &none)).derive);
    std::map<std::string, std::string> bad{{"KILLREPORT_DERIVE", "maybe"}};
    EXPECT_THROW(config::Load({}, &bad), FatalError);
}

}  // namespace kr::test
