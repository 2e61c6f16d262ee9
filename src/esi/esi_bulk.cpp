// Bulk ESI endpoints: POST /universe/names/ and /characters/affiliation/ with batch splitting.
#include <set>

#include <nlohmann/json.hpp>

#include "core/esi_paths.hpp"
#include "esi/esi_client.hpp"
#include "esi/request_group.hpp"

namespace kr::esi {

namespace {

template <typename T, typename Parse>
BulkResult<T> RunBulk(EsiClient& esi, const std::string& path, const std::vector<std::int64_t>& ids, std::size_t batch,
                      Parse parse) {
    BulkResult<T> out;
    std::vector<std::int64_t> unique;
    std::set<std::int64_t> seen;
    for (auto id : ids) {
        if (seen.insert(id).second) unique.push_back(id);
    }
    batch = std::clamp<std::size_t>(batch, 1, 1000);
    RequestGroup requests(esi);  // after `out`: leaving early cancels the callbacks first
    std::function<void(std::vector<std::int64_t>)> submit = [&](std::vector<std::int64_t> chunk) {
        std::string body = "[";
        for (std::size_t i = 0; i < chunk.size(); ++i) {
            if (i) body += ',';
            body += std::to_string(chunk[i]);
        }
        body += ']';
        requests.Submit({"POST", path, std::move(body), std::nullopt}, [&, chunk](EsiResult r) {
            const bool bad_batch = r.outcome == Outcome::kNotFound || r.outcome == Outcome::kUnprocessable ||
                                   (r.outcome == Outcome::kClientError && r.status == 400);
            if (r.outcome == Outcome::kOk) {
                auto j = nlohmann::json::parse(r.body, nullptr, false);
                std::vector<T> items;
                bool ok = j.is_array();
                if (ok) {
                    try {
                        for (const auto& e : j) items.push_back(parse(e));
                    } catch (const std::exception&) {
                        ok = false;
                    }
                }
                if (ok) {
                    out.items.insert(out.items.end(), items.begin(), items.end());
                } else {
                    out.failed_ids.insert(out.failed_ids.end(), chunk.begin(), chunk.end());
                }
            } else if (bad_batch) {
                if (chunk.size() == 1) {
                    out.bad_ids.push_back(chunk.front());
                } else {
                    auto mid = chunk.begin() + static_cast<std::ptrdiff_t>(chunk.size() / 2);
                    submit(std::vector<std::int64_t>(chunk.begin(), mid));
                    submit(std::vector<std::int64_t>(mid, chunk.end()));
                }
            } else {
                out.failed_ids.insert(out.failed_ids.end(), chunk.begin(), chunk.end());
            }
        });
    };
    for (std::size_t i = 0; i < unique.size(); i += batch) {
        submit(std::vector<std::int64_t>(
            unique.begin() + static_cast<std::ptrdiff_t>(i),
            unique.begin() + static_cast<std::ptrdiff_t>(std::min(unique.size(), i + batch))));
    }
    requests.Wait();  // (a callback may submit the halves of its batch)
    return out;
}

template <typename T>
std::optional<T> OptField(const nlohmann::json& j, const char* k) {
    auto it = j.find(k);
    if (it == j.end() || it->is_null()) return std::nullopt;
    return it->get<T>();
}

}  // namespace

BulkResult<UniverseName> ResolveNames(EsiClient& esi, const std::vector<std::int64_t>& ids, std::size_t batch) {
    return RunBulk<UniverseName>(esi, esi_paths::UniverseNames(), ids, batch, [](const nlohmann::json& e) {
        UniverseName n;
        n.id = e.at("id").get<std::int64_t>();
        n.name = e.at("name").get<std::string>();
        n.category = e.at("category").get<std::string>();
        return n;
    });
}

BulkResult<CharacterAffiliation> ResolveAffiliations(EsiClient& esi, const std::vector<std::int64_t>& ids,
                                                     std::size_t batch) {
    return RunBulk<CharacterAffiliation>(esi, esi_paths::CharacterAffiliation(), ids, batch,
                                         [](const nlohmann::json& e) {
                                             CharacterAffiliation a;
                                             a.character_id = e.at("character_id").get<std::int64_t>();
                                             a.corporation_id = e.at("corporation_id").get<std::int64_t>();
                                             a.alliance_id = OptField<std::int64_t>(e, "alliance_id");
                                             a.faction_id = OptField<std::int64_t>(e, "faction_id");
                                             return a;
                                         });
}

}  // namespace kr::esi
