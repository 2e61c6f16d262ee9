#pragma once
// Wiring of one worker thread: its own database connection (store), queue connection, HTTP
// client and ESI/zKillboard clients, plus the request budget shared by the whole process (and,
// through the database, by every process of the deployment) and the process's clock.
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "esi/esi_client.hpp"
#include "esi/r2z2_client.hpp"
#include "esi/rate_budget.hpp"
#include "esi/zkb_client.hpp"
#include "http/curl_http_client.hpp"
#include "http/http_client.hpp"
#include "log/progress.hpp"
#include "push/killmail_events.hpp"
#include "queue/consumer.hpp"
#include "queue/queue.hpp"
#include "store/pooled_store.hpp"
#include "store/store.hpp"

namespace kr::worker {

/// ESI client settings from the configuration (base URL, shared rate limit, user agent), sized
/// for `concurrency` transfers in flight.
esi::EsiOptions EsiOptionsFrom(const config::Config& cfg, int concurrency);

/// What the workers' stores maintain (KILLREPORT_DERIVE).
store::StoreOptions StoreOptionsOf(const config::Config& cfg);

/// One per process: the shared budget (kr_rate_state in DATABASE_URL, so processes on other
/// machines sharing the database share it too) and the clock every component reads the time from.
class ProcessShared {
public:
    /// Migrates the database. `clock` must outlive everything built from this object.
    explicit ProcessShared(const config::Config& cfg, kr::Clock& clock = SystemClock::Instance());
    const config::Config& Cfg() const { return cfg_; }
    kr::Clock& Clock() { return clock_; }
    esi::RateBudget& Budget() { return *budget_; }
    queue::RetryPolicy Policy() const;
    /// The process's KILLREPORT_DB_CONNECTIONS connections, shared by the threads of `run`.
    std::shared_ptr<store::StorePool> Pool();
    /// Who hears of the killmails new in a commit: Redis (USE_REDIS_PUBSUB=true, REDIS_URL) or
    /// nobody. Thread-safe; lives as long as this object.
    push::KillmailEvents& Events() { return *events_; }

private:
    config::Config cfg_;
    kr::Clock& clock_;
    std::shared_ptr<esi::RateBudget> budget_;
    std::mutex pool_mu_;
    std::shared_ptr<store::StorePool> pool_;
    std::unique_ptr<push::KillmailEvents> events_;
};

/// One per worker thread (nothing here is thread-safe).
class Runtime {
public:
    /// concurrency sizes the HTTP client (transfers in flight). pooled: the store uses the
    /// process's shared connections instead of one of its own (`run`, many worker threads).
    Runtime(ProcessShared& shared, int concurrency, bool pooled = false);
    /// The same over HTTP clients the caller owns (for ESI and for zKillboard; may be one), which
    /// must outlive the runtime — instead of libcurl clients of its own.
    Runtime(ProcessShared& shared, int concurrency, http::HttpClient& esi_http, http::HttpClient& zkb_http);
    ~Runtime();

    store::Store& Store() { return *store_; }
    queue::Queue& Queue() { return *queue_; }
    esi::EsiClient& Esi() { return *esi_; }
    esi::ZkbClient& Zkb();
    /// The R2Z2 (live feed) client, made on first use over an HTTP client of its own.
    esi::R2z2Client& R2z2();
    kr::Clock& Clock() { return shared_.Clock(); }
    ProcessShared& Shared() { return shared_; }
    /// The stop request of the thread: every blocking wait of the ESI and zKillboard clients gives
    /// up when it is requested (kr::StoppedError: the delivery is handed back).
    void SetStopToken(std::stop_token stop);
    /// From now on every message this runtime's queue publishes is counted in `progress` (a queue
    /// script's progress line), which must outlive the runtime's use of it.
    void CountPublishesIn(log::Progress& progress);
    /// The progress line set by CountPublishesIn, if any: a script that knows how much it will
    /// publish says so (Progress::Expect) and gets an ETA.
    log::Progress* PublishProgress() { return publish_progress_; }

private:
    /// Opens the store and the queue and builds the ESI client over `esi_http`.
    void Open(int concurrency, bool pooled, http::HttpClient& esi_http);

    ProcessShared& shared_;
    std::unique_ptr<store::Store> store_;
    std::unique_ptr<queue::Queue> queue_;
    std::unique_ptr<http::CurlHttpClient> own_http_;  ///< ESI's, unless given
    std::unique_ptr<esi::EsiClient> esi_;
    std::unique_ptr<http::CurlHttpClient> own_zkb_http_;  ///< zKillboard's, unless given (made on first use)
    http::HttpClient* zkb_http_ = nullptr;
    std::unique_ptr<esi::ZkbClient> zkb_;
    std::unique_ptr<http::CurlHttpClient> own_r2z2_http_;
    std::unique_ptr<esi::R2z2Client> r2z2_;
    std::stop_token stop_;
    log::Progress* publish_progress_ = nullptr;
};

}  // namespace kr::worker
