#include "queue/lease_owner.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <mutex>
#include <sstream>

#include "core/clock.hpp"

namespace kr::queue {

namespace {

std::optional<std::string> ReadLine(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    if (!in || !std::getline(in, line)) return std::nullopt;
    return line;
}

/// Boot time, seconds since the epoch (/proc/stat "btime").
std::optional<std::int64_t> BootTime() {
    static const std::optional<std::int64_t> btime = []() -> std::optional<std::int64_t> {
        std::ifstream in("/proc/stat");
        std::string key;
        std::int64_t value = 0;
        while (in >> key) {
            if (key == "btime" && in >> value) return value;
            in.ignore(1 << 20, '\n');
        }
        return std::nullopt;
    }();
    return btime;
}

std::string HostKey() {
    char name[256] = {};
    if (::gethostname(name, sizeof name - 1) != 0) name[0] = '\0';
    std::string host = *name ? name : "localhost";
    char ns[128] = {};
    ssize_t n = ::readlink("/proc/self/ns/pid", ns, sizeof ns - 1);
    if (n > 0) host += " " + std::string(ns, static_cast<std::size_t>(n));
    return host;
}

}  // namespace

std::optional<std::int64_t> LeaseOwner::ProcessStart(std::int64_t pid) {
    if (pid <= 0) return std::nullopt;
    auto btime = BootTime();
    auto stat = ReadLine("/proc/" + std::to_string(pid) + "/stat");
    if (!btime || !stat) {  // no /proc, or one that hides other users' processes: existence only
        if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM) return 0;
        return std::nullopt;
    }
    // "pid (comm) state ppid … starttime(22nd field) …"; comm may hold spaces and parentheses.
    auto close = stat->rfind(')');
    if (close == std::string::npos) return std::nullopt;
    std::istringstream fields(stat->substr(close + 1));
    std::string state;
    fields >> state;
    if (state == "Z" || state == "X") return std::nullopt;  // exited, not reaped yet
    std::string skip;
    for (int field = 4; field < 22; ++field) fields >> skip;
    std::int64_t ticks = 0;
    if (!(fields >> ticks)) return std::nullopt;
    long hz = ::sysconf(_SC_CLK_TCK);
    if (hz <= 0) hz = 100;
    return *btime * 1000 + ticks * 1000 / hz;
}

LeaseOwner LeaseOwner::Self() {
    static std::mutex mu;
    static LeaseOwner self;
    std::lock_guard lock(mu);
    const std::int64_t pid = ::getpid();
    if (self.pid != pid) {  // first call, or a forked child
        self.pid = pid;
        self.host = HostKey();
        auto start = ProcessStart(pid);
        self.started_at =
            start && *start > 0 ? *start : kr::SystemClock::Instance().NowMs();  // a process fact, not a test's time
        self.id = self.host + "/" + std::to_string(pid) + "/" + std::to_string(self.started_at);
    }
    return self;
}

bool LeaseOwner::GoneFrom(const LeaseOwner& self) const {
    if (host != self.host) return false;
    if (pid == self.pid) return id != self.id;  // a process before us had our pid
    auto start = ProcessStart(pid);
    return !start || (*start != 0 && *start != started_at);
}

}  // namespace kr::queue
