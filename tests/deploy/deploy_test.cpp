// deploy/ (issue 16, item 6): the systemd units, timers and Procfiles are what deploy/generate.sh
// makes from `killreport --help`, every worker command has a unit (so a new worker without one
// fails here), the timers keep the original's schedule, the environment file names every
// variable, install.sh lays it all out, and systemd-analyze verify accepts the units.
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "core/entity_kind.hpp"
#include "support/run.hpp"
#include "support/test_env.hpp"

namespace kr::test {

namespace {

namespace fs = std::filesystem;

const std::string kBin = KR_KILLREPORT_BIN;
const std::string kDeploy = std::string(KR_SOURCE_DIR) + "/deploy";
const std::string kUnits = kDeploy + "/systemd";
const std::string kExec = "/usr/local/bin/killreport";

bool Has(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

/// The subcommands `killreport --help` lists.
std::vector<std::string> Commands() {
    auto r = RunCommand(kBin + " --help");
    EXPECT_EQ(r.exit_code, 0);
    std::vector<std::string> out;
    bool in_subcommands = false;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
        if (line == "Subcommands:") in_subcommands = true;
        if (!in_subcommands || line.rfind("  ", 0) != 0 || line.size() < 3 || line[2] == ' ') continue;
        out.push_back(line.substr(2, line.find(' ', 2) - 2));
    }
    return out;
}

/// Every long-running command: the worker commands and `run`.
std::vector<std::string> LongRunning() {
    std::vector<std::string> out;
    for (const auto& c : Commands()) {
        if (c.rfind("worker:", 0) == 0 || c == "run") out.push_back(c);
    }
    return out;
}

std::string UnitName(std::string command) {
    for (auto& ch : command) {
        if (ch == ':') ch = '-';
    }
    return "killreport-" + command;
}

/// "Key=value" lines of a unit file (the last value of a key).
std::map<std::string, std::string> Keys(const std::string& path) {
    std::map<std::string, std::string> out;
    std::istringstream in(Slurp(path));
    for (std::string line; std::getline(in, line);) {
        auto eq = line.find('=');
        if (line.empty() || line[0] == '#' || line[0] == '[' || eq == std::string::npos) continue;
        out[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return out;
}

std::set<std::string> FileNames(const std::string& dir) {
    std::set<std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
    return out;
}

/// The queue scripts' schedule as systemd calendar events (UTC): the original's
/// (ecosystem.config.js), the universe's lists after ESI's 11:05 expiry (docs/operations.md), and
/// the refresh schedule with queue:characters' hourly affiliation sweep (the scaled-out layout).
const std::map<std::string, std::string> kSchedule = {
    {"queue:alliances", "*-*-* 22:00:00 UTC"},     {"queue:alliance-corporations", "*-*-* 22:05:00 UTC"},
    {"queue:corporations", "*-*-* 04:00:00 UTC"},  {"queue:character", "*-*-01 00:00:00 UTC"},
    {"queue:regions", "*-*-* 11:10:00 UTC"},       {"queue:constellations", "*-*-* 11:10:00 UTC"},
    {"queue:solar-systems", "*-*-* 11:10:00 UTC"}, {"refresh", "*-*-* *:00/10:00 UTC"},
    {"queue:characters", "*-*-* *:30:00 UTC"},
};

}  // namespace

TEST(Deploy, CommittedFilesAreWhatTheGeneratorMakesFromHelp) {
    TempSqliteFile tmp;
    auto r = RunCommand("'" + kDeploy + "/generate.sh' '" + kBin + "' '" + tmp.Dir() + "'");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string fix = "deploy/ is stale: run deploy/generate.sh build/killreport and commit what it writes";
    EXPECT_EQ(FileNames(tmp.Dir() + "/systemd"), FileNames(kUnits)) << fix;
    for (const auto& name : FileNames(tmp.Dir() + "/systemd")) {
        EXPECT_EQ(Slurp(tmp.Dir() + "/systemd/" + name), Slurp(kUnits + "/" + name)) << name << ": " << fix;
    }
    for (const char* name : {"Procfile", "Procfile.embedded"}) {
        EXPECT_EQ(Slurp(tmp.Dir() + "/" + name), Slurp(kDeploy + "/" + name)) << name << ": " << fix;
    }
}

TEST(Deploy, EveryWorkerCommandHasAUnitThatRestartsAndStopsBySigterm) {
    const auto commands = LongRunning();
    // The help lists the registry's workers (what a new entity kind adds), and run.
    for (const auto& k : EntityKinds()) {
        EXPECT_NE(std::find(commands.begin(), commands.end(), k.command), commands.end()) << k.command;
    }
    ASSERT_NE(std::find(commands.begin(), commands.end(), "run"), commands.end());
    const std::string procfile = Slurp(kDeploy + "/Procfile");
    std::set<std::string> expected_units;
    for (const auto& c : commands) {
        const std::string unit = UnitName(c) + ".service";
        expected_units.insert(unit);
        ASSERT_TRUE(fs::exists(kUnits + "/" + unit)) << c << " has no unit " << unit << " (deploy/generate.sh)";
        auto k = Keys(kUnits + "/" + unit);
        EXPECT_EQ(k["ExecStart"], kExec + " " + c) << unit;
        EXPECT_EQ(k["Type"], "exec") << unit;
        EXPECT_EQ(k["Restart"], "on-failure") << unit;
        EXPECT_EQ(k["KillSignal"], "SIGTERM") << unit;
        // Above our 10 s stop guarantee, so systemd's SIGKILL never cuts a clean stop short.
        ASSERT_TRUE(Has(k["TimeoutStopSec"], "s")) << unit;
        EXPECT_GT(std::stoi(k["TimeoutStopSec"]), 10) << unit;
        EXPECT_EQ(k["EnvironmentFile"], "/etc/killreport/killreport.env") << unit;
        EXPECT_EQ(k["User"], "killreport") << unit;
        EXPECT_EQ(k["NoNewPrivileges"], "yes") << unit;
        EXPECT_EQ(k["ProtectSystem"], "strict") << unit;
        if (c != "run") {
            EXPECT_TRUE(Has(procfile, ": killreport " + c + "\n")) << c << " is not in deploy/Procfile";
            EXPECT_TRUE(Has(Slurp(kUnits + "/killreport-workers.target"), "Wants=" + unit + "\n")) << unit;
        }
    }
    EXPECT_EQ(Slurp(kDeploy + "/Procfile.embedded").find("run: killreport run\n") != std::string::npos, true);
    // And no unit of a worker that is gone (the scheduled commands' oneshot units aside).
    std::set<std::string> scheduled;
    for (const auto& [command, calendar] : kSchedule) scheduled.insert(UnitName(command) + ".service");
    for (const auto& name : FileNames(kUnits)) {
        if (name.size() > 8 && name.substr(name.size() - 8) == ".service" && !scheduled.count(name)) {
            EXPECT_TRUE(expected_units.count(name)) << name << " runs no command `killreport --help` lists";
        }
    }
}

TEST(Deploy, TimersKeepTheSchedule) {
    const auto commands = Commands();
    std::set<std::string> timers;
    for (const auto& name : FileNames(kUnits)) {
        if (name.size() > 6 && name.substr(name.size() - 6) == ".timer") timers.insert(name);
    }
    EXPECT_EQ(timers.size(), kSchedule.size());
    for (const auto& [command, calendar] : kSchedule) {
        EXPECT_NE(std::find(commands.begin(), commands.end(), command), commands.end()) << command;
        const std::string base = kUnits + "/" + UnitName(command);
        ASSERT_TRUE(fs::exists(base + ".timer")) << command;
        auto timer = Keys(base + ".timer");
        EXPECT_EQ(timer["OnCalendar"], calendar) << command;
        EXPECT_EQ(timer["Persistent"], "true") << command;
        EXPECT_EQ(timer["Unit"], UnitName(command) + ".service") << command;
        auto service = Keys(base + ".service");
        EXPECT_EQ(service["Type"], "oneshot") << command;
        EXPECT_EQ(service["ExecStart"], kExec + " " + command) << command;
        EXPECT_EQ(service["EnvironmentFile"], "/etc/killreport/killreport.env") << command;
    }
}

TEST(Deploy, TheEnvironmentFileNamesEveryVariable) {
    auto config = RunCommand("env -u DATABASE_URL -u RABBITMQ_URL " + kBin + " config");
    ASSERT_EQ(config.exit_code, 0) << config.err;
    const std::string env = "\n" + Slurp(kDeploy + "/killreport.env");
    std::istringstream lines(config.out);
    int variables = 0;
    for (std::string line; std::getline(lines, line);) {
        const std::string name = line.substr(0, line.find(" = "));
        ++variables;
        EXPECT_TRUE(Has(env, "\n" + name + "=") || Has(env, "\n#" + name + "="))
            << name << " is missing from deploy/killreport.env";
    }
    EXPECT_GE(variables, 10);
    // What the example sets is what killreport accepts.
    auto r = RunCommand("set -a; . '" + kDeploy + "/killreport.env'; set +a; " + kBin + " config");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(Has(r.out, "DATABASE_URL = sqlite:///var/lib/killreport/killreport.db  (environment)")) << r.out;
}

TEST(Deploy, InstallLaysOutWhatTheUnitsName) {
    TempSqliteFile root;
    auto r = RunCommand("DESTDIR='" + root.Dir() + "' '" + kDeploy + "/install.sh' '" + kBin + "'");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string bin = root.Dir() + kExec;
    ASSERT_TRUE(fs::exists(bin));
    EXPECT_NE(fs::status(bin).permissions() & fs::perms::owner_exec, fs::perms::none);
    struct stat st {};
    ASSERT_EQ(::stat((root.Dir() + "/etc/killreport/killreport.env").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0640u) << "the environment file holds passwords";
    EXPECT_TRUE(fs::exists(root.Dir() + "/etc/sysusers.d/killreport.conf"));
    EXPECT_EQ(FileNames(root.Dir() + "/etc/systemd/system"), FileNames(kUnits));
    EXPECT_EQ(RunCommand(bin + " --version").exit_code, 0);
    // A second install keeps the operator's environment file.
    RunCommand("echo 'LOG_LEVEL=debug' >>'" + root.Dir() + "/etc/killreport/killreport.env'");
    ASSERT_EQ(RunCommand("DESTDIR='" + root.Dir() + "' '" + kDeploy + "/install.sh' '" + kBin + "'").exit_code, 0);
    EXPECT_TRUE(Has(Slurp(root.Dir() + "/etc/killreport/killreport.env"), "LOG_LEVEL=debug\n"));
}

TEST(Deploy, SystemdAnalyzeVerifyAcceptsEveryUnit) {
    if (RunCommand("command -v systemd-analyze").exit_code != 0) {
        GTEST_SKIP() << "systemd-analyze is not installed (Debian: apt-get install systemd): the units were "
                        "checked above but not verified by systemd";
    }
    // Verified as installed, with ExecStart pointing at this build (verify checks it is executable).
    TempSqliteFile tmp;
    for (const auto& name : FileNames(kUnits)) {
        std::string text = Slurp(kUnits + "/" + name);
        for (auto pos = text.find(kExec); pos != std::string::npos; pos = text.find(kExec, pos + kBin.size())) {
            text.replace(pos, kExec.size(), kBin);
        }
        std::ofstream(tmp.Dir() + "/" + name) << text;
    }
    auto r =
        RunCommand("cd '" + tmp.Dir() + "' && systemd-analyze verify --man=no " + tmp.Dir() + "/killreport-* 2>&1");
    EXPECT_EQ(r.exit_code, 0) << r.out;
    EXPECT_EQ(r.out, "") << "systemd-analyze verify complains (any complaint fails):\n" << r.out;
    // It does catch a mistake (so the silence above means something).
    std::ofstream(tmp.Dir() + "/killreport-broken.service")
        << "[Service]\nExecStart=" << kBin << " run\nRestart=on-failur\n";
    auto broken = RunCommand("systemd-analyze verify --man=no " + tmp.Dir() + "/killreport-broken.service 2>&1");
    EXPECT_TRUE(Has(broken.out, "on-failur")) << broken.out;
}

}  // namespace kr::test
