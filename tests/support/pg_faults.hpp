#pragma once
// PostgreSQL dropping a connection under a statement in flight, on purpose: the statement is made
// to wait inside the server (another connection holds a table lock it needs), its backend is
// terminated there — what a restart, a failover or an operator's pg_terminate_backend does — and
// the lock is let go.
#include <chrono>
#include <future>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "db/connection.hpp"

namespace kr::test {

/// Runs `op` on a thread while a connection of its own to `url` holds `lock` ("LOCK TABLE …");
/// once op's backend waits for that lock, terminates it and lets the lock go. Returns op's future.
template <typename F>
auto TerminatedInFlight(const std::string& url, const std::string& lock, F op) {
    auto blocker = db::Open(url);
    blocker->Begin();
    blocker->Exec(lock);
    auto result = std::async(std::launch::async, std::move(op));
    std::int64_t victim = 0;
    for (int i = 0; i < 500 && !victim; ++i) {
        auto r = blocker->Exec(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
        if (r.Rows() > 0) victim = r.Int(0, 0);
        if (!victim) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_GT(victim, 0) << "the operation never waited for the lock";
    blocker->Exec("SELECT pg_terminate_backend($1::int)", {victim});
    blocker->Rollback();
    return result;
}

}  // namespace kr::test
