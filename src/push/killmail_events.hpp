#pragma once
// Who hears of a killmail new in the database: after the commit that stored it, every path that
// stores killmails (worker:redisq, worker:zkillboard) hands the ids that were new in that commit
// here. Off (NoKillmailEvents) unless USE_REDIS_PUBSUB=true (push/redis_push.hpp). On PostgreSQL
// the store also sends NOTIFY killmail_new inside the killmails' transaction (store/pg_store.cpp).
#include <span>

#include "core/model.hpp"

namespace kr::push {

class KillmailEvents {
public:
    virtual ~KillmailEvents() = default;
    /// Called after the commit with the ids new in it; never blocks on, nor throws for, the listener.
    virtual void Stored(std::span<const Id> new_ids) = 0;
};

/// Nobody to tell.
class NoKillmailEvents final : public KillmailEvents {
public:
    static NoKillmailEvents& Instance();
    void Stored(std::span<const Id>) override {}
};

}  // namespace kr::push
