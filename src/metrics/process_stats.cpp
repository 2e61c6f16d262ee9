#include "metrics/process_stats.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace kr::metrics {

namespace {

/// The fields of /proc/self/stat after the command name (field 3 onwards), which may hold spaces.
std::vector<std::string> StatFields() {
    std::ifstream in("/proc/self/stat");
    std::string line;
    std::getline(in, line);
    std::vector<std::string> out;
    const auto close = line.rfind(')');
    if (close == std::string::npos) return out;
    std::istringstream rest(line.substr(close + 1));
    std::string f;
    while (rest >> f) out.push_back(f);
    return out;
}

/// Seconds since the epoch at boot (/proc/stat btime), 0 if unknown.
double BootTime() {
    std::ifstream in("/proc/stat");
    std::string key;
    while (in >> key) {
        if (key == "btime") {
            double v = 0;
            in >> v;
            return v;
        }
        in.ignore(1 << 20, '\n');
    }
    return 0;
}

}  // namespace

void CollectProcess(Exposition& out) {
    const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
    const auto f = StatFields();
    // f[0] is field 3 (state): utime = field 14, stime = 15, starttime = 22, rss = 24 (pages).
    if (f.size() > 22 && ticks > 0) {
        const double cpu = (std::stod(f[11]) + std::stod(f[12])) / ticks;
        out.Add("process_cpu_seconds_total", Type::kCounter, "Total user and system CPU time spent in seconds.", {},
                cpu);
        const double boot = BootTime();
        if (boot > 0) {
            out.Add("process_start_time_seconds", Type::kGauge,
                    "Start time of the process since unix epoch in seconds.", {}, boot + std::stod(f[19]) / ticks);
        }
        const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
        out.Add("process_resident_memory_bytes", Type::kGauge, "Resident memory size in bytes.", {},
                std::stod(f[21]) * page);
        out.Add("process_virtual_memory_bytes", Type::kGauge, "Virtual memory size in bytes.", {}, std::stod(f[20]));
    }
    std::error_code ec;
    double fds = 0;
    for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
        ++fds;
    }
    if (!ec) out.Add("process_open_fds", Type::kGauge, "Number of open file descriptors.", {}, fds);
}

}  // namespace kr::metrics
