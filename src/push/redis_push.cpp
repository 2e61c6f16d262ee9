#include "push/redis_push.hpp"

#include <algorithm>

#include "core/errors.hpp"
#include "log/log.hpp"

namespace kr::push {

std::string KillmailMessage(Id killmail_id) { return "{\"killmailId\":" + std::to_string(killmail_id) + "}"; }

RedisPush::RedisPush(std::unique_ptr<RedisClient> client, RedisPushOptions options)
    : client_(std::move(client)), options_(std::move(options)) {
    thread_ = std::jthread([this](std::stop_token stop) { Loop(stop); });
}

RedisPush::~RedisPush() {
    thread_.request_stop();
    if (thread_.joinable()) thread_.join();
}

void RedisPush::Stored(std::span<const Id> new_ids) {
    if (new_ids.empty()) return;
    {
        std::lock_guard lock(mu_);
        pending_.insert(pending_.end(), new_ids.begin(), new_ids.end());
        if (pending_.size() > options_.max_pending) {
            const std::size_t over = pending_.size() - options_.max_pending;
            pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(over));
            dropped_ += static_cast<std::int64_t>(over);
            if (!dropping_) {
                spdlog::warn("redis: more than {} killmail events wait; the oldest are dropped", options_.max_pending);
                dropping_ = true;
            }
        }
    }
    wake_.notify_one();
}

void RedisPush::Down(const std::string& why) {
    if (!down_) spdlog::warn("redis: {}; killmail events wait until it is back (ingest goes on)", why);
    down_ = true;
}

bool RedisPush::Flush(bool reconnect) {
    try {
        if (!client_->Connected()) {
            if (!reconnect) return false;
            client_->Connect();
        }
        for (;;) {
            Id id = 0;
            {
                std::lock_guard lock(mu_);
                if (pending_.empty()) break;
                id = pending_.front();
            }
            client_->Publish(options_.channel, KillmailMessage(id));
            ++published_;
            std::lock_guard lock(mu_);
            // Stored() may have dropped the front meanwhile: pop only the id just published.
            if (!pending_.empty() && pending_.front() == id) pending_.pop_front();
        }
    } catch (const Error& e) {
        Down(e.what());
        return false;
    }
    if (down_) {
        spdlog::info("redis: back; killmail events published again");
        down_ = false;
        std::lock_guard lock(mu_);
        dropping_ = false;
    }
    return true;
}

void RedisPush::Loop(std::stop_token stop) {
    auto backoff = options_.backoff_first;
    while (!stop.stop_requested()) {
        {
            std::unique_lock lock(mu_);
            if (!wake_.wait(lock, stop, [&] { return !pending_.empty(); })) break;  // stopped
        }
        if (stop.stop_requested()) break;
        if (Flush(true)) {
            backoff = options_.backoff_first;
            continue;
        }
        std::unique_lock lock(mu_);
        wake_.wait_for(lock, stop, backoff, [] { return false; });  // ends at once on stop
        backoff = std::min(backoff * 2, options_.backoff_cap);
    }
    Flush(!down_);  // one connection attempt unless Redis is known to be away
    std::lock_guard lock(mu_);
    if (!pending_.empty()) {
        spdlog::warn("redis: stopping with {} killmail event(s) not published", pending_.size());
    }
}

}  // namespace kr::push
