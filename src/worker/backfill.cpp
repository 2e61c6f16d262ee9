#include "worker/backfill.hpp"

#include <chrono>
#include <ctime>
#include <unordered_map>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "core/errors.hpp"
#include "core/esi_json.hpp"
#include "core/esi_paths.hpp"
#include "log/log.hpp"
#include "worker/publisher.hpp"

namespace kr::worker {

namespace {
constexpr std::uint8_t kEntityPriority = 5;
constexpr const char* kSource = "backfill";
constexpr const char* kCcpVerified = "CCP VERIFIED";

nlohmann::json Dump(const esi::R2z2Answer& a, const std::string& what) {
    try {
        auto j = nlohmann::json::parse(a.body);
        if (!j.is_object()) throw TransientError(what + ": not a JSON object");
        return j;
    } catch (const nlohmann::json::exception& e) {
        throw TransientError(what + ": unusable body: " + e.what());
    }
}

std::string Failure(const esi::R2z2Answer& a) {
    return a.error.empty() ? "HTTP " + std::to_string(a.http_status) : a.error;
}
}  // namespace

Backfill::Backfill(store::Store& store, queue::Queue& queue, esi::R2z2Client& r2z2, esi::EsiClient& esi,
                   const Clock& clock, push::KillmailEvents& events, std::size_t batch)
    : store_(store), queue_(queue), r2z2_(r2z2), esi_(esi), clock_(clock), events_(events), batch_(batch) {
    for (const auto& k : EntityKinds()) queue_.Declare(k.queue);
}

std::vector<std::string> Backfill::Days(const std::string& from, const std::string& to) {
    auto parse = [](const std::string& d) {
        std::tm tm{};
        if (d.size() != 10 || !::strptime(d.c_str(), "%Y-%m-%d", &tm)) {
            throw FatalError("'" + d + "' is not a date (YYYY-MM-DD)");
        }
        return ::timegm(&tm);
    };
    const std::time_t a = parse(from), b = parse(to);
    if (b < a) throw FatalError("--to " + to + " is before --from " + from);
    std::vector<std::string> out;
    for (std::time_t t = a; t <= b; t += 86400) {
        std::tm tm{};
        ::gmtime_r(&t, &tm);
        char buf[16];
        std::strftime(buf, sizeof buf, "%Y%m%d", &tm);
        out.emplace_back(buf);
    }
    return out;
}

BackfillDay Backfill::Day(const std::string& day) {
    using Status = esi::R2z2Answer::Status;
    BackfillDay d;
    d.day = day;
    const auto index_answer = r2z2_.FetchHistoryIndex(day);
    if (index_answer.status == Status::kNotFound) return d;  // not dumped (yet)
    if (index_answer.status != Status::kOk) {
        throw TransientError("history " + day + ": " + Failure(index_answer));
    }
    const auto index = Dump(index_answer, "history " + day);
    d.dumped = true;
    d.listed = index.size();
    std::vector<Id> ids;
    ids.reserve(index.size());
    std::unordered_map<Id, std::string> hashes;
    for (const auto& [key, hash] : index.items()) {
        const Id id = std::stoll(key);
        ids.push_back(id);
        hashes[id] = hash.is_string() ? hash.get<std::string>() : std::string();
    }
    const auto stored = store_.ExistingKillmailIds(ids);
    d.already = stored.size();
    std::vector<Id> missing;
    for (Id id : ids) {
        if (!stored.count(id)) missing.push_back(id);
    }
    if (missing.empty()) return d;

    std::vector<Killmail> batch;
    std::vector<Id> from_esi;
    const auto raw_answer = r2z2_.FetchHistoryRaw(day);
    if (raw_answer.status == Status::kOk) {
        d.raw = true;
        const auto raw = Dump(raw_answer, "history raw " + day);
        for (Id id : missing) {
            const auto it = raw.find(std::to_string(id));
            if (it == raw.end()) {
                from_esi.push_back(id);
                continue;
            }
            try {
                batch.push_back(esi_json::ParseKillmail(it->dump(), hashes[id]));
            } catch (const esi_json::ParseError& e) {
                spdlog::warn("backfill: {} killmail {}: {}", day, id, e.what());
                ++d.failed;
                continue;
            }
            if (batch.size() >= batch_) Store(batch, d);
        }
    } else if (raw_answer.status == Status::kNotFound) {
        from_esi = std::move(missing);
    } else {
        throw TransientError("history raw " + day + ": " + Failure(raw_answer));
    }
    Store(batch, d);

    // The rest from ESI, a batch in flight at a time (the killmail route group's budget paces it).
    std::vector<Id> fetch;
    for (Id id : from_esi) {
        if (hashes[id] == kCcpVerified || hashes[id].empty()) {
            ++d.unfetchable;  // ESI cannot serve a CCP-regenerated mail
        } else {
            fetch.push_back(id);
        }
    }
    for (std::size_t at = 0; at < fetch.size(); at += batch_) {
        const std::size_t end = std::min(fetch.size(), at + batch_);
        std::string transient;
        for (std::size_t i = at; i < end; ++i) {
            const Id id = fetch[i];
            esi::EsiRequest req;
            req.path = esi_paths::Killmail(id, hashes[id]);
            esi_.Submit(std::move(req), [&, id](esi::EsiResult r) {
                if (r.outcome == esi::Outcome::kOk) {
                    try {
                        batch.push_back(esi_json::ParseKillmail(r.body, hashes[id]));
                        ++d.from_esi;
                        return;
                    } catch (const esi_json::ParseError& e) {
                        spdlog::warn("backfill: {} killmail {}: {}", day, id, e.what());
                    }
                } else if (r.Failed()) {
                    transient = r.error;
                    return;
                } else {
                    spdlog::warn("backfill: {} killmail {}: ESI {}", day, id, r.status);
                }
                ++d.failed;
            });
        }
        while (!esi_.Idle()) esi_.Drive(std::chrono::milliseconds(50));
        Store(batch, d);
        if (!transient.empty()) throw TransientError("backfill " + day + ": ESI: " + transient);
    }
    return d;
}

void Backfill::Store(std::vector<Killmail>& batch, BackfillDay& d) {
    if (batch.empty()) return;
    const Referenced refs = ReferencedBy(batch);
    const auto result = store_.StoreKillmailPage(batch, refs, nullptr);
    events_.Stored(result.new_ids);
    d.stored += result.inserted;
    for (const auto& [id, why] : result.rejected) spdlog::warn("backfill: {} killmail {}: {}", d.day, id, why);
    d.failed += result.rejected.size();
    batch.clear();
    // The ids they reference that the database lacks, to the info workers (kr_entity_outbox holds
    // them until then: a crash here leaves them to the next PublishOutbox).
    for (const auto& k : EntityKinds()) {
        if (refs[k.kind].empty()) continue;
        PublishEntities(queue_, store_, clock_, k.kind, store_.FilterMissing(k.kind, refs[k.kind]), kEntityPriority,
                        kSource);
    }
    store_.ClearPublished(refs, nullptr);
}

}  // namespace kr::worker
