#include "worker/runtime.hpp"

#include <algorithm>

#include "db/connection.hpp"
#include "db/migrator.hpp"
#include "log/log.hpp"

namespace kr::worker {

ProcessShared::ProcessShared(const config::Config& cfg, kr::Clock& clock) : cfg_(cfg), clock_(clock) {
    {
        // Every command works on a current schema (idempotent; on a KillReport database it only
        // adds our tables, exactly as db:migrate).
        auto conn = db::Open(cfg_.database_url);
        auto report = db::Migrate(*conn, {}, clock_);
        for (const auto& m : report.applied) spdlog::info("schema: applied {}", m);
    }
    // The budget lives in the database so that every process sharing it shares one budget; with
    // both limits off nothing is ever reserved, so an in-process budget is enough.
    bool limited = cfg_.esi_rate_limit > 0 || cfg_.zkillboard_rate_limit > 0;
    budget_ = esi::MakeBudget(limited ? cfg_.database_url : std::string(), clock_);
}

queue::RetryPolicy ProcessShared::Policy() const {
    queue::RetryPolicy p;
    p.max_attempts = cfg_.max_attempts;
    return p;
}

std::shared_ptr<store::StorePool> ProcessShared::Pool() {
    std::lock_guard lock(pool_mu_);
    if (!pool_) pool_ = std::make_shared<store::StorePool>(cfg_.database_url, cfg_.db_connections, clock_);
    return pool_;
}

queue::QueueOptions QueueOptionsFrom(const config::Config& cfg) {
    queue::QueueOptions o;
    o.max_attempts = cfg.max_attempts;
    return o;
}

Runtime::Runtime(ProcessShared& shared, int concurrency, bool pooled) : shared_(shared) {
    const auto& cfg = shared.Cfg();
    if (pooled) {
        store_ = std::make_unique<store::PooledStore>(shared.Pool());
    } else {
        store_ = store::OpenStore(cfg.database_url, shared.Clock());
    }
    queue_ = queue::OpenQueue(cfg.rabbitmq_url, cfg.database_url, QueueOptionsFrom(cfg));
    esi::EsiOptions eo;
    eo.base_url = cfg.esi_base_url;
    eo.rate_limit = cfg.esi_rate_limit;
    eo.user_agent = cfg.user_agent;
    eo.compatibility_date = cfg.compatibility_date;
    eo.max_concurrency = std::max(4, std::min(concurrency, 256));
    auto co = esi::CurlOptionsFor(eo);  // the client's own timeouts and User-Agent
    // Transfers beyond this wait for a free keep-alive connection instead of opening more.
    co.max_host_connections = std::min(co.max_concurrency, 64);
    http_ = std::make_unique<http::CurlHttpClient>(co);
    esi_ = std::make_unique<esi::EsiClient>(eo, *http_, shared.Budget(), shared.Clock());
}

Runtime::~Runtime() = default;

esi::ZkbClient& Runtime::Zkb() {
    if (!zkb_) {
        const auto& cfg = shared_.Cfg();
        http::CurlOptions co;
        co.max_concurrency = 2;
        co.max_host_connections = 2;
        co.user_agent = cfg.user_agent;
        zkb_http_ = std::make_unique<http::CurlHttpClient>(co);
        esi::ZkbOptions zo;
        zo.base_url = cfg.zkillboard_base_url;
        zo.rate_limit = cfg.zkillboard_rate_limit;
        zo.user_agent = cfg.user_agent;
        zkb_ = std::make_unique<esi::ZkbClient>(zo, *zkb_http_, shared_.Budget(), shared_.Clock());
    }
    return *zkb_;
}

}  // namespace kr::worker
