#pragma once
// The `--until-idle` check of `run` and the worker commands: the queues count as drained when
// nothing is ready, nothing is leased / unacked (by this or any other process, a dead one
// included until its leases are taken over) and nothing waits for a delayed retry, several probes
// in a row (a worker may be about to publish what the next one consumes). While they are not, it
// says what it waits for (at most every few seconds).
#include <chrono>
#include <string>
#include <vector>

#include "queue/queue.hpp"

namespace kr::worker {

class DrainWatch {
public:
    /// `who` prefixes the log lines ("run", a worker's name); `needed` probes in a row.
    DrainWatch(std::string who, std::vector<std::string> queues, int needed);

    /// One probe; call it while the workers hold nothing, a few hundred ms apart. True once the
    /// queues were drained `needed` probes in a row.
    bool Probe(queue::Queue& q);
    /// The workers took something: the streak starts again.
    void Reset() { streak_ = 0; }

    /// What keeps `queues` from being drained ("q1: 2 leased, 1 retrying; q2: 3 ready"); empty
    /// when they are drained. Counts a queue does not know (AMQP's unacked) are left out.
    static std::string Pending(queue::Queue& q, const std::vector<std::string>& queues);

private:
    std::string who_;
    std::vector<std::string> queues_;
    int needed_;
    int streak_ = 0;
    std::chrono::steady_clock::time_point last_log_{};
};

}  // namespace kr::worker
