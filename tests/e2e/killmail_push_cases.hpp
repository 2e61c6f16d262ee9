#pragma once
// Who hears of new killmails (push/killmail_events.hpp, PgStore::NotifyNew): after a live catch-up
// and a zKillboard page, an observer — a Redis subscriber of NEW_KILLMAIL, or a PostgreSQL
// LISTEN killmail_new — sees exactly the killmails that were new in the database, once each; a
// killmail delivered a second time (the feed replayed, the pages fetched again) makes no event.
#include <poll.h>

#include <algorithm>
#include <memory>
#include <set>

#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#include "e2e/live_cases.hpp"
#include "push/redis_url.hpp"

namespace kr::test {

/// What arrived since the last Collect(), up to the marker the observer sends itself.
class KillmailObserver {
public:
    virtual ~KillmailObserver() = default;
    virtual std::vector<Id> Collect() = 0;
};

/// SUBSCRIBE NEW_KILLMAIL on one connection; PUBLISH the marker {"killmailId":0} on another.
class RedisObserver final : public KillmailObserver {
public:
    explicit RedisObserver(const std::string& url) {
        const auto a = push::ParseRedisUrl(url);
        sub_.reset(redisConnect(a.host.c_str(), a.port));
        pub_.reset(redisConnect(a.host.c_str(), a.port));
        if (!sub_ || sub_->err || !pub_ || pub_->err) throw std::runtime_error("redis: cannot connect to " + url);
        timeval tv{60, 0};  // a missing event fails the test instead of hanging it
        redisSetTimeout(sub_.get(), tv);
        Reply(redisCommand(sub_.get(), "SUBSCRIBE NEW_KILLMAIL"));
    }
    std::vector<Id> Collect() override {
        Reply(redisCommand(pub_.get(), "PUBLISH NEW_KILLMAIL %s", "{\"killmailId\":0}"));
        std::vector<Id> out;
        for (;;) {
            void* raw = nullptr;
            if (redisGetReply(sub_.get(), &raw) != REDIS_OK) throw std::runtime_error("redis: no marker");
            auto r = Reply(raw);
            // ["message", channel, body]
            if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || r->element[0]->type != REDIS_REPLY_STRING ||
                std::string(r->element[0]->str, r->element[0]->len) != "message") {
                continue;
            }
            const std::string body(r->element[2]->str, r->element[2]->len);
            const auto j = json::parse(body);
            EXPECT_EQ(std::string(r->element[1]->str, r->element[1]->len), "NEW_KILLMAIL");
            EXPECT_EQ(j.size(), 1u) << body;  // {"killmailId": N}, nothing else
            const Id id = j.at("killmailId").get<Id>();
            if (id == 0) return out;
            out.push_back(id);
        }
    }

private:
    struct CtxFree {
        void operator()(redisContext* c) const { redisFree(c); }
    };
    struct ReplyFree {
        void operator()(redisReply* r) const { freeReplyObject(r); }
    };
    static std::unique_ptr<redisReply, ReplyFree> Reply(void* raw) {
        if (!raw) throw std::runtime_error("redis: no reply");
        return std::unique_ptr<redisReply, ReplyFree>(static_cast<redisReply*>(raw));
    }
    std::unique_ptr<redisContext, CtxFree> sub_, pub_;
};

/// LISTEN killmail_new; the marker is NOTIFY killmail_new, '0'.
class PgObserver final : public KillmailObserver {
public:
    explicit PgObserver(const std::string& url) : conn_(PQconnectdb(url.c_str())) {
        if (PQstatus(conn_.get()) != CONNECTION_OK) throw std::runtime_error("pg: cannot connect");
        Exec("LISTEN killmail_new");
    }
    std::vector<Id> Collect() override {
        Exec("NOTIFY killmail_new, '0'");
        std::vector<Id> out;
        for (;;) {
            while (PGnotify* n = PQnotifies(conn_.get())) {
                const std::string channel = n->relname, payload = n->extra;
                PQfreemem(n);
                EXPECT_EQ(channel, "killmail_new");
                const Id id = std::stoll(payload);
                if (id == 0) return out;
                out.push_back(id);
            }
            pollfd fd{PQsocket(conn_.get()), POLLIN, 0};
            if (::poll(&fd, 1, 60'000) <= 0) throw std::runtime_error("pg: no marker");
            PQconsumeInput(conn_.get());
        }
    }

private:
    void Exec(const char* sql) {
        PGresult* r = PQexec(conn_.get(), sql);
        const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok) throw std::runtime_error(std::string("pg: ") + sql + ": " + PQerrorMessage(conn_.get()));
    }
    struct ConnFree {
        void operator()(PGconn* c) const { PQfinish(c); }
    };
    std::unique_ptr<PGconn, ConnFree> conn_;
};

/// A live universe whose one history character's zKillboard pages overlap the feed.
inline fakeesi::Options PushUniverse() {
    auto o = LiveUniverse(40);
    o.universe.history_characters = 1;
    o.universe.history_kills = 60;
    return o;
}

inline std::set<Id> StoredKillmails(Pipeline& p) {
    std::set<Id> out;
    auto r = p.Db().Exec("SELECT killmail_id FROM killmails");
    for (std::size_t i = 0; i < r.Rows(); ++i) out.insert(r.Int(i, 0));
    return out;
}

/// `events` is exactly `after` − `before`, each once.
inline void ExpectEventsOfNew(std::vector<Id> events, const std::set<Id>& before, const std::set<Id>& after,
                              const std::string& what) {
    std::vector<Id> expected;
    std::set_difference(after.begin(), after.end(), before.begin(), before.end(), std::back_inserter(expected));
    std::sort(events.begin(), events.end());
    EXPECT_EQ(events, expected) << what;
}

/// `env`: the push's settings (USE_REDIS_PUBSUB, REDIS_URL) or "".
inline void NewKillmailsObserved(Pipeline& p, KillmailObserver& observer, const std::string& env) {
    auto kr = [&](const std::string& args) {
        auto r = RunCommand(env + p.Env() + "timeout 240 " KR_KILLREPORT_BIN " " + args);
        EXPECT_EQ(r.exit_code, 0) << args << "\n" << r.err;
    };
    std::set<Id> before;
    // The live feed: its newest killmail, then 25 more.
    kr("worker:redisq --until-idle");
    auto after = StoredKillmails(p);
    ASSERT_EQ(after.size(), 1u);
    ExpectEventsOfNew(observer.Collect(), before, after, "the feed's first killmail");
    Upload(p, 25);
    kr("worker:redisq --until-idle");
    before = after;
    after = StoredKillmails(p);
    ASSERT_EQ(after.size(), 26u);
    ExpectEventsOfNew(observer.Collect(), before, after, "the live catch-up");
    // The feed replayed from its first sequence: every killmail delivered a second time, no event.
    const auto feed = Feed(p);
    kr("worker:redisq --until-idle --from " +
       std::to_string(feed.next - static_cast<std::int64_t>(feed.killmails.size())));
    EXPECT_EQ(StoredKillmails(p), after);
    EXPECT_EQ(observer.Collect(), std::vector<Id>{}) << "the replayed feed";

    // zKillboard's pages of the history character: the killmails the feed had not brought.
    const auto history = p.Get("/_admin/truth/history-characters");
    ASSERT_EQ(history.size(), 1u);
    const Id character = history[0].get<Id>();
    std::set<Id> pages;
    for (const auto& km : p.Get("/_admin/truth/characters/" + std::to_string(character) + "/killmails")) {
        pages.insert(km.get<Id>());
    }
    kr("user:add " + std::to_string(character));
    kr("queue:character");
    kr("worker:zkillboard --until-idle");
    before = after;
    after = StoredKillmails(p);
    EXPECT_TRUE(std::includes(after.begin(), after.end(), pages.begin(), pages.end()));
    ASSERT_GT(after.size(), before.size());
    ExpectEventsOfNew(observer.Collect(), before, after, "worker:zkillboard's pages");
    // The same pages again: nothing new, no event.
    kr("queue:character");
    kr("worker:zkillboard --until-idle");
    EXPECT_EQ(StoredKillmails(p), after);
    EXPECT_EQ(observer.Collect(), std::vector<Id>{}) << "the pages fetched again";
}

inline std::string RedisEnv(const std::string& url) { return "USE_REDIS_PUBSUB=true REDIS_URL='" + url + "' "; }

}  // namespace kr::test
