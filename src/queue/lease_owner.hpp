#pragma once
// The process a database-queue lease belongs to (kr_queue_consumers, see db_queue.hpp): who it
// is, and whether a process on the same host can tell that it is gone.
//   host        the host name and the pid namespace: pids compare only within one
//   pid         its process id
//   started_at  when the process started (ms since the epoch, from /proc on Linux), so a pid
//               that a new process reuses is not taken for the old one
//   id          "host/pid/started_at": the owner written on its leases
#include <cstdint>
#include <optional>
#include <string>

namespace kr::queue {

class LeaseOwner {
public:
    std::string id;
    std::string host;
    std::int64_t pid = 0;
    std::int64_t started_at = 0;

    /// This process (computed again in a forked child).
    static LeaseOwner Self();

    /// Whether this owner is known to be gone, as seen from `self`: on the same host, its pid no
    /// longer runs (or is a zombie), runs a process started at another time, or is `self`'s own
    /// pid under another id. On another host nothing can be told (its heartbeat must say).
    bool GoneFrom(const LeaseOwner& self) const;

    /// When process `pid` on this host started (ms since the epoch); nullopt when no such process
    /// runs (zombies included). 0 for a process that exists but whose start cannot be read (no
    /// /proc, or another user's process behind hidepid).
    static std::optional<std::int64_t> ProcessStart(std::int64_t pid);
};

}  // namespace kr::queue
