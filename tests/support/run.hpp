#pragma once
// Runs a command and captures its exit code, stdout and stderr (for CLI tests).
#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include <sys/wait.h>

namespace kr::test {

struct RunResult {
    int exit_code = -1;
    std::string out;
    std::string err;
};

inline std::string Slurp(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

/// `command` is passed to /bin/sh; stdout and stderr go to temp files.
inline RunResult RunCommand(const std::string& command) {
    char tmpl[] = "/tmp/kr_run_XXXXXX";
    std::string dir = ::mkdtemp(tmpl);
    std::string full = "(" + command + ") >" + dir + "/out 2>" + dir + "/err </dev/null";
    int status = std::system(full.c_str());
    RunResult r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = Slurp(dir + "/out");
    r.err = Slurp(dir + "/err");
    std::system(("rm -rf '" + dir + "'").c_str());
    return r;
}

}  // namespace kr::test
