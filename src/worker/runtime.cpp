#include "worker/runtime.hpp"

#include <algorithm>

#include "db/connection.hpp"
#include "db/migrator.hpp"
#include "log/log.hpp"
#include "push/hiredis_client.hpp"
#include "push/redis_push.hpp"
#include "queue/observed_queue.hpp"

namespace kr::worker {

ProcessShared::ProcessShared(const config::Config& cfg, kr::Clock& clock) : cfg_(cfg), clock_(clock) {
    {
        // Every command works on a current schema (idempotent; on a KillReport database it only
        // adds our tables, exactly as db:migrate).
        auto conn = db::Open(cfg_.database_url);
        auto report = db::Migrate(*conn, {}, clock_, cfg_.progress_every_seconds);
        for (const auto& m : report.applied) spdlog::info("schema: applied {}", m);
    }
    // The budget lives in the database so that every process sharing it shares one budget; with
    // both limits off nothing is ever reserved, so an in-process budget is enough.
    bool limited = cfg_.esi_rate_limit > 0 || cfg_.zkillboard_rate_limit > 0;
    budget_ = esi::MakeBudget(limited ? cfg_.database_url : std::string(), clock_);
    if (cfg_.use_redis_pubsub) {
        auto address = push::ParseRedisUrl(cfg_.redis_url);
        spdlog::info("redis: new killmails are published on NEW_KILLMAIL at {}:{}", address.host, address.port);
        events_ = std::make_unique<push::RedisPush>(std::make_unique<push::HiredisClient>(std::move(address)));
    } else {
        events_ = std::make_unique<push::NoKillmailEvents>();
    }
}

queue::RetryPolicy ProcessShared::Policy() const {
    queue::RetryPolicy p;
    p.max_attempts = cfg_.max_attempts;
    return p;
}

std::shared_ptr<store::StorePool> ProcessShared::Pool() {
    std::lock_guard lock(pool_mu_);
    if (!pool_)
        pool_ =
            std::make_shared<store::StorePool>(cfg_.database_url, cfg_.db_connections, clock_, StoreOptionsOf(cfg_));
    return pool_;
}

store::StoreOptions StoreOptionsOf(const config::Config& cfg) {
    store::StoreOptions o;
    o.derive = cfg.derive;
    return o;
}

esi::EsiOptions EsiOptionsFrom(const config::Config& cfg, int concurrency) {
    esi::EsiOptions eo;
    eo.base_url = cfg.esi_base_url;
    eo.rate_limit = cfg.esi_rate_limit;
    eo.refresh_share = cfg.refresh_share;
    eo.user_agent = cfg.user_agent;
    eo.compatibility_date = cfg.compatibility_date;
    eo.max_concurrency = std::max(4, std::min(concurrency, 256));
    return eo;
}

Runtime::Runtime(ProcessShared& shared, int concurrency, bool pooled) : shared_(shared) {
    // The client's own timeouts and User-Agent.
    auto co = esi::CurlOptionsFor(EsiOptionsFrom(shared.Cfg(), concurrency));
    // Transfers beyond this wait for a free keep-alive connection instead of opening more.
    co.max_host_connections = std::min(co.max_concurrency, 64);
    own_http_ = std::make_unique<http::CurlHttpClient>(co);
    Open(concurrency, pooled, *own_http_);
}

Runtime::Runtime(ProcessShared& shared, int concurrency, http::HttpClient& esi_http, http::HttpClient& zkb_http)
    : shared_(shared), zkb_http_(&zkb_http) {
    Open(concurrency, false, esi_http);
}

void Runtime::Open(int concurrency, bool pooled, http::HttpClient& esi_http) {
    const auto& cfg = shared_.Cfg();
    if (pooled) {
        store_ = std::make_unique<store::PooledStore>(shared_.Pool());
    } else {
        store_ = store::OpenStore(cfg.database_url, shared_.Clock(), StoreOptionsOf(cfg));
    }
    queue::QueueOptions qo;
    qo.clock = &shared_.Clock();
    queue_ = queue::OpenQueue(cfg.rabbitmq_url, cfg.database_url, qo);
    esi_ =
        std::make_unique<esi::EsiClient>(EsiOptionsFrom(cfg, concurrency), esi_http, shared_.Budget(), shared_.Clock());
}

Runtime::~Runtime() = default;

void Runtime::SetStopToken(std::stop_token stop) {
    stop_ = std::move(stop);
    esi_->SetStopToken(stop_);
    if (zkb_) zkb_->SetStopToken(stop_);
    if (r2z2_) r2z2_->SetStopToken(stop_);
}

void Runtime::CountPublishesIn(log::Progress& progress) {
    publish_progress_ = &progress;
    queue_ = std::make_unique<queue::ObservedQueue>(std::move(queue_), [&progress](const std::string&, std::size_t n) {
        progress.Add(static_cast<std::int64_t>(n));
    });
}

esi::R2z2Client& Runtime::R2z2() {
    if (!r2z2_) {
        const auto& cfg = shared_.Cfg();
        esi::R2z2Options ro;
        http::CurlOptions co;
        co.max_concurrency = static_cast<int>(std::max<std::size_t>(2, ro.window));  // the files asked ahead
        co.max_host_connections = co.max_concurrency;
        co.user_agent = cfg.user_agent;
        own_r2z2_http_ = std::make_unique<http::CurlHttpClient>(co);
        ro.base_url = cfg.r2z2_base_url;
        ro.rate_limit = cfg.r2z2_rate_limit;
        ro.user_agent = cfg.user_agent;
        r2z2_ = std::make_unique<esi::R2z2Client>(ro, *own_r2z2_http_, shared_.Budget(), shared_.Clock());
        r2z2_->SetStopToken(stop_);
    }
    return *r2z2_;
}

esi::ZkbClient& Runtime::Zkb() {
    if (!zkb_) {
        const auto& cfg = shared_.Cfg();
        if (!zkb_http_) {
            http::CurlOptions co;
            co.max_concurrency = 2;
            co.max_host_connections = 2;
            co.user_agent = cfg.user_agent;
            own_zkb_http_ = std::make_unique<http::CurlHttpClient>(co);
            zkb_http_ = own_zkb_http_.get();
        }
        esi::ZkbOptions zo;
        zo.base_url = cfg.zkillboard_base_url;
        zo.rate_limit = cfg.zkillboard_rate_limit;
        zo.user_agent = cfg.user_agent;
        zkb_ = std::make_unique<esi::ZkbClient>(zo, *zkb_http_, shared_.Budget(), shared_.Clock());
        zkb_->SetStopToken(stop_);
    }
    return *zkb_;
}

}  // namespace kr::worker
