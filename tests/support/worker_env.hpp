#pragma once
// A worker's world without servers, for the worker and queue-script tests: a migrated temp SQLite
// file (or a given database) holding the store and the database queue, ESI and zKillboard
// scripted on one FakeHttpClient, a ManualClock that every component reads (the HTTP fake
// advances it instead of sleeping), no rate limits (an in-process budget), and the production
// Runtime wired over them.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/clock.hpp"
#include "core/time_format.hpp"
#include "db/connection.hpp"
#include "queue/db_queue.hpp"
#include "queue/messages.hpp"
#include "support/fake_http_client.hpp"
#include "support/test_env.hpp"
#include "worker/runtime.hpp"
#include "worker/worker_loop.hpp"
#include "worker/worker_stats.hpp"

namespace kr::test {

inline constexpr const char* kEsiBase = "http://esi.test";
inline constexpr const char* kZkbBase = "http://zkb.test/api/";
inline constexpr std::int64_t kHourMs = 3'600'000;

class WorkerEnv {
public:
    /// Over `database_url` (the store and the database queue; PostgreSQL too), or a temp SQLite
    /// file when empty. `configure` may change the configuration before anything is built (e.g.
    /// turn a budget on).
    explicit WorkerEnv(const std::string& database_url = {},
                       const std::function<void(config::Config&)>& configure = nullptr)
        : url_(database_url.empty() ? file_.Url() : database_url), http_(clock_) {
        config::Config cfg;
        cfg.database_url = url_;
        cfg.esi_base_url = kEsiBase;
        cfg.zkillboard_base_url = kZkbBase;
        cfg.esi_rate_limit = 0;
        cfg.zkillboard_rate_limit = 0;
        cfg.user_agent = "killreport-cpp/test";
        cfg.compatibility_date = "2025-08-26";
        if (configure) configure(cfg);
        shared_ = std::make_unique<worker::ProcessShared>(cfg, clock_);
        rt_ = std::make_unique<worker::Runtime>(*shared_, 8, http_, http_);
        settler_ = std::make_unique<worker::Settler>(rt_->Queue(), ImmediateRetries(), counters_);
        conn_ = db::Open(url_);
    }

    ManualClock& Clock() { return clock_; }
    /// The database the store, the queue and Conn() are on.
    const std::string& Url() const { return url_; }
    http::FakeHttpClient& Http() { return http_; }
    worker::Runtime& Rt() { return *rt_; }
    store::Store& Store() { return rt_->Store(); }
    /// A connection of the test's own (checks and setup).
    db::Connection& Conn() { return *conn_; }

    /// The clock's time as the store and the messages write it.
    std::string NowIso() const { return IsoUtc(clock_.NowMs()); }

    /// Scripts a 200 with `body` for the next request to the ESI path, fresh for `max_age_s`.
    void EsiOk(const std::string& path, std::string body, const std::string& etag = "\"e1\"", int max_age_s = 3600) {
        http_.Script(path, http::FakeHttpClient::Reply(200, std::move(body), {{"ETag", etag}, MaxAge(max_age_s)}));
    }
    /// Scripts a bodiless answer (304, 404, 422, …) for the next request to the ESI path.
    void EsiStatus(const std::string& path, long status, int max_age_s = 3600) {
        http_.Script(
            path, http::FakeHttpClient::Reply(status, status == 304 ? "" : "{\"error\":\"x\"}", {MaxAge(max_age_s)}));
    }
    /// Requests made so far whose URL ends with `suffix`.
    std::size_t Requests(const std::string& suffix) const { return http_.CountRequests(suffix); }

    /// Puts messages on a queue (as a queue script or the original would).
    void Publish(const std::string& queue, const std::vector<std::string>& bodies, std::uint8_t priority = 0) {
        queue::DbQueue q(url_, QueueOpts());
        std::vector<queue::OutMessage> out;
        for (const auto& b : bodies) out.push_back({b, priority, 0});
        q.Publish(queue, out);
    }
    void PublishEntity(const std::string& queue, Id id) {
        queue::EntityMessage m;
        m.entity_id = id;
        m.queued_at = NowIso();
        m.source = "test";
        Publish(queue, {queue::BuildEntityMessage(m)});
    }

    /// Every message waiting on `queue`, taken off it, in delivery order (priority, then FIFO).
    std::vector<queue::Delivery> Take(const std::string& queue) {
        queue::DbQueue q(url_, QueueOpts());
        q.Consume(queue, 100000);
        std::vector<queue::Delivery> all;
        for (;;) {
            auto got = q.Poll(std::chrono::milliseconds(0));
            if (got.empty()) break;
            for (auto& d : got) {
                q.Ack(d);
                all.push_back(std::move(d));
            }
        }
        return all;
    }
    /// The entity ids of the messages on `queue` (taken off it), in delivery order.
    std::vector<Id> TakeIds(const std::string& queue) {
        std::vector<Id> ids;
        for (const auto& d : Take(queue)) ids.push_back(queue::ParseEntityMessage(d.body).entity_id);
        return ids;
    }
    queue::QueueStats Stats(const std::string& queue) { return queue::DbQueue(url_, QueueOpts()).Stats(queue); }
    std::vector<queue::DeadLetter> Dead(const std::string& queue) {
        return queue::DbQueue(url_, QueueOpts()).ListDead(queue, 100);
    }

    /// Runs `w` in the production consume loop until its queues are drained and nothing is held,
    /// or until `stop` (which the clients' waits watch too, as in production).
    /// Retries are immediate (no backoff delay), at most `max_attempts` attempts.
    worker::WorkerCounters& RunUntilIdle(worker::Worker& w, std::stop_token stop = {}) {
        worker::SummaryLogger summary(w.Name(), counters_, std::chrono::hours(1));
        worker::LoopOptions loop;
        loop.until_idle = true;
        rt_->SetStopToken(stop);
        worker::RunWorker(w, rt_->Queue(), summary, loop, stop);
        return counters_;
    }
    /// The settler workers under test use (immediate retries, see RunUntilIdle).
    worker::Settler& Settler() { return *settler_; }
    worker::WorkerCounters& Counters() { return counters_; }

    static queue::RetryPolicy ImmediateRetries() {
        queue::RetryPolicy p;
        p.max_attempts = 3;
        p.base = std::chrono::milliseconds(0);
        return p;
    }

private:
    /// The test's own queue handles read the same clock as the worker's.
    queue::QueueOptions QueueOpts() {
        queue::QueueOptions o;
        o.clock = &clock_;
        return o;
    }
    static std::pair<std::string, std::string> MaxAge(int seconds) {
        return {"Cache-Control", "max-age=" + std::to_string(seconds)};
    }

    TempSqliteFile file_;  ///< unused over another database
    std::string url_;
    ManualClock clock_;
    http::FakeHttpClient http_;
    std::unique_ptr<worker::ProcessShared> shared_;
    std::unique_ptr<worker::Runtime> rt_;
    std::unique_ptr<db::Connection> conn_;
    worker::WorkerCounters counters_;
    std::unique_ptr<worker::Settler> settler_;
};

}  // namespace kr::test
