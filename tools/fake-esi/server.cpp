#include "server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <unordered_map>

#include <httplib.h>

#include "http_util.hpp"
#include "faults.hpp"
#include "limits.hpp"
#include "routes.hpp"
#include "stop_signal.hpp"

namespace fakeesi {
namespace {

using json = nlohmann::json;

struct CacheEntry {
  std::shared_ptr<const std::string> body;  // null for killmails (regenerated)
  std::string etag;
  std::int64_t last_modified_s = 0;
  std::int64_t expires_ms = 0;
  std::uint32_t hits = 0;
};

class CacheStore {
 public:
  static constexpr std::size_t kShards = 64;
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, CacheEntry> map;
  };
  Shard& For(const std::string& key) { return shards_[std::hash<std::string>{}(key) % kShards]; }
  void Clear() {
    for (auto& s : shards_) {
      std::lock_guard lk(s.mu);
      s.map.clear();
    }
  }
  void ResetHits() {
    for (auto& s : shards_) {
      std::lock_guard lk(s.mu);
      for (auto& [k, e] : s.map) e.hits = 0;
    }
  }
  void Summary(std::uint64_t& distinct, std::uint64_t& max_hits, std::string& max_url) {
    distinct = 0;
    max_hits = 0;
    for (auto& s : shards_) {
      std::lock_guard lk(s.mu);
      for (auto& [k, e] : s.map) {
        if (e.hits == 0) continue;
        ++distinct;
        if (e.hits > max_hits) {
          max_hits = e.hits;
          max_url = k;
        }
      }
    }
  }

 private:
  std::array<Shard, kShards> shards_;
};

using Counter = std::atomic<std::uint64_t>;

// cpp-httplib 0.11 only notices stop() on an idle keep-alive connection after its keep-alive
// timeout. To stop promptly, shut down our accepted sockets (local port == our port).
void ShutdownAcceptedSockets(int port, int listen_fd) {
  std::error_code ec;
  for (const auto& de : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    int fd = -1;
    try {
      fd = std::stoi(de.path().filename().string());
    } catch (...) {
      continue;
    }
    if (fd < 0 || fd == listen_fd) continue;
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) continue;
    if (ss.ss_family != AF_INET) continue;
    const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    if (ntohs(in->sin_port) != port) continue;
    ::shutdown(fd, SHUT_RDWR);
  }
}

}  // namespace

// ================================================================================================
struct Server::Impl {
  explicit Impl(Options o)
      : opts(std::move(o)),
        uni([&] {
          UniverseParams p = opts.universe;
          if (p.samples_dir.empty() && opts.load_samples) p.samples_dir = DefaultSamplesDir();
          if (!opts.load_samples) p.samples_dir.clear();
          return p;
        }()),
        start_ms(NowMs()),
        errlim(opts.error_limit, std::max(1, opts.error_window_seconds), start_ms),
        kmbucket(opts.killmail_bucket_tokens, std::max(1, opts.killmail_bucket_window_seconds)),
        zkblim(opts.zkb_rate) {
    cache_seconds = opts.cache_seconds;
    zkb_full = opts.zkb_format == "full";
    zkb_page_size = std::max(1, opts.zkb_page_size);
    zkb_max_page = std::max(1, opts.zkb_max_page);
    zkb_missing_slash_status = opts.zkb_missing_slash_status;
    error_headers_everywhere = opts.error_headers_on_bucket_routes;
    faults.Set(opts.faults);
    if (opts.storm_seconds > 0) storm_until_ms = start_ms + opts.storm_seconds * 1000LL;
    ResetStats();
  }

  Options opts;
  Universe uni;
  std::int64_t start_ms;
  std::unique_ptr<httplib::Server> svr;
  std::thread thread;
  int port = -1;
  int listen_fd = -1;

  StopSignal stop;

  // runtime-adjustable configuration
  std::atomic<int> cache_seconds{-1};
  std::atomic<bool> zkb_full{false};
  std::atomic<int> zkb_page_size{200};
  std::atomic<int> zkb_max_page{100};
  std::atomic<int> zkb_missing_slash_status{403};
  std::atomic<bool> error_headers_everywhere{false};

  FaultInjector faults{stop};
  std::atomic<std::int64_t> storm_until_ms{0};

  ErrorLimiter errlim;
  TokenBucket kmbucket;
  RateLimiter zkblim;

  // stats
  std::array<std::array<Counter, kStatusSlots>, kRouteCount> route_status{};
  SlidingMax esi_max, zkb_max;
  std::array<SlidingMax, kRouteCount> route_max;
  Counter c420{0}, c429{0}, zkb429{0}, conditional{0}, not_modified{0}, npc_char{0}, repeated{0},
      repeated_uncond{0}, errors_counted{0}, esi_requests{0}, zkb_requests{0}, admin_requests{0};
  std::atomic<std::int64_t> stats_origin_ms{0};
  CacheStore cache;

  // ---------------------------------------------------------------------------------------------
  void ResetStats() {
    std::int64_t now = NowMs();
    stats_origin_ms = now;
    for (auto& r : route_status)
      for (auto& c : r) c = 0;
    esi_max.EnableHistogram();
    esi_max.Reset(now);
    zkb_max.Reset(now);
    for (auto& m : route_max) m.Reset(now);
    for (Counter* c : {&c420, &c429, &zkb429, &conditional, &not_modified, &npc_char, &repeated,
                       &repeated_uncond, &errors_counted, &esi_requests, &zkb_requests,
                       &admin_requests})
      *c = 0;
    faults.ResetCounters();
    cache.ResetHits();
  }

  void ResetLimits() {
    std::int64_t now = NowMs();
    errlim.Reset(now);
    kmbucket.Reset();
    zkblim.Reset();
    storm_until_ms = 0;
  }

  int CacheSecondsFor(int route) const {
    int cs = cache_seconds.load();
    if (cs >= 0) return cs;
    switch (route) {
      case kCharacter: return 86400;
      case kType:
      case kNpcCorps: return 86400;
      case kKillmail: return 2592000;
      case kStatus: return 30;
      default: return 3600;
    }
  }

  void Record(int route, int status) {
    route_status[static_cast<std::size_t>(route)][static_cast<std::size_t>(StatusSlot(status))]
        .fetch_add(1, std::memory_order_relaxed);
  }

  // ---- helpers for responses ---------------------------------------------------------------------
  void ErrorLimitHeaders(httplib::Response& res, std::int64_t now) {
    std::int64_t storm = storm_until_ms.load();
    if (now < storm) {
      res.set_header("X-ESI-Error-Limit-Remain", "0");
      res.set_header("X-ESI-Error-Limit-Reset",
                     std::to_string(std::max<std::int64_t>(1, (storm - now + 999) / 1000)));
      return;
    }
    res.set_header("X-ESI-Error-Limit-Remain", std::to_string(errlim.Remain(now)));
    res.set_header("X-ESI-Error-Limit-Reset", std::to_string(errlim.ResetSeconds(now)));
  }

  // Builds the current body for a GET route; returns status (200, 404, 422...) and message.
  int Generate(const EsiRoute& r, std::string& body, std::string& err) {
    std::optional<json> j;
    switch (r.route) {
      case kAlliancesList: j = uni.AllianceIds(); break;
      case kAlliance: j = uni.Alliance(r.id); err = "Alliance not found"; break;
      case kAllianceCorps: j = uni.AllianceCorporations(r.id); err = "Alliance not found"; break;
      case kCorporation: j = uni.Corporation(r.id); err = "Corporation not found"; break;
      case kNpcCorps: j = uni.NpcCorpIds(); break;
      case kCharacter: j = uni.Character(r.id); err = "Character not found"; break;
      case kType: j = uni.Type(r.id); err = "Type not found"; break;
      case kKillmail: {
        auto h = uni.KillmailHash(r.id);
        if (!h || *h != r.hash) {
          err = "Invalid killmail_id and/or killmail_hash";
          return 422;
        }
        j = uni.Killmail(r.id);
        err = "Invalid killmail_id and/or killmail_hash";
        if (!j) return 422;
        break;
      }
      case kStatus:
        j = json{{"players", 23456}, {"server_version", "2964217"},
                 {"start_time", IsoDate(start_ms / 1000)}};
        break;
      default: err = "Not found"; return 404;
    }
    if (!j) return 404;
    body = j->dump();
    return 200;
  }

  void ServeEsiGet(const httplib::Request& req, httplib::Response& res, const EsiRoute& r,
                   std::int64_t now) {
    const bool store_body = r.route != kKillmail;
    const std::string inm = req.get_header_value("If-None-Match");
    const bool conditional_req = req.has_header("If-None-Match");
    if (conditional_req) ++conditional;

    std::shared_ptr<const std::string> body;
    std::string etag;
    std::int64_t last_modified = 0, expires = 0;
    bool have = false;
    auto& shard = cache.For(r.key);
    {
      std::lock_guard lk(shard.mu);
      auto it = shard.map.find(r.key);
      if (it != shard.map.end() && now < it->second.expires_ms) {
        ++repeated;
        if (!conditional_req) ++repeated_uncond;
        it->second.hits++;
        have = true;
        body = it->second.body;
        etag = it->second.etag;
        last_modified = it->second.last_modified_s;
        expires = it->second.expires_ms;
      }
    }
    bool counted = have;
    if (have && conditional_req && EtagMatches(inm, etag)) {
      // 304 without regenerating
    } else if (!have || !body) {
      std::string fresh, err;
      int st = Generate(r, fresh, err);
      if (st != 200) {
        SetError(res, st, err);
        return;
      }
      auto fresh_etag = ETagOf(fresh);
      std::lock_guard lk(shard.mu);
      CacheEntry& e = shard.map[r.key];
      if (!(now < e.expires_ms)) {  // (re)fill: new Expires window
        if (e.etag != fresh_etag) {
          e.last_modified_s = e.etag.empty() ? start_ms / 1000 : now / 1000;
          e.etag = fresh_etag;
        }
        e.body = store_body ? std::make_shared<const std::string>(fresh) : nullptr;
        e.expires_ms = (now / 1000 + 1 + CacheSecondsFor(r.route)) * 1000;
      }
      if (!counted) e.hits++;
      etag = e.etag;
      last_modified = e.last_modified_s;
      expires = e.expires_ms;
      body = e.body ? e.body : std::make_shared<const std::string>(std::move(fresh));
    }
    res.set_header("Cache-Control", "public, max-age=" + std::to_string(std::max<std::int64_t>(0, (expires - now) / 1000)));
    res.set_header("ETag", etag);
    res.set_header("Expires", HttpDate(expires / 1000));
    res.set_header("Last-Modified", HttpDate(last_modified));
    if (conditional_req && EtagMatches(inm, etag)) {
      ++not_modified;
      res.status = 304;
      return;
    }
    res.status = 200;
    res.set_content(*body, kJson);
  }

  void ServeEsiPost(const httplib::Request& req, httplib::Response& res, const EsiRoute& r,
                    std::int64_t now) {
    json ids;
    try {
      ids = json::parse(req.body);
    } catch (const std::exception&) {
      SetError(res, 400, "Invalid body: not JSON");
      return;
    }
    if (!ids.is_array() || ids.empty() || ids.size() > 1000) {
      SetError(res, 400, "Invalid body: expected an array of 1 to 1000 ids");
      return;
    }
    std::vector<std::int64_t> v;
    for (const auto& x : ids) {
      if (!x.is_number_integer()) {
        SetError(res, 400, "Invalid body: ids must be integers");
        return;
      }
      v.push_back(x.get<std::int64_t>());
    }
    auto sorted = v;
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
      SetError(res, 400, "Invalid body: ids must be unique");
      return;
    }
    json out = json::array();
    for (auto id : v) {
      if (IsNpc(id) && r.route == kAffiliation) ++npc_char;
      auto e = r.route == kNames ? uni.Name(id) : uni.Affiliation(id);
      if (!e) {
        if (r.route == kNames) {
          SetError(res, 404, "Ensure all IDs are valid before resolving");
          return;
        }
        continue;
      }
      out.push_back(std::move(*e));
    }
    std::string body = out.dump();
    std::int64_t expires = (now / 1000 + 1 + CacheSecondsFor(r.route)) * 1000;
    res.set_header("Cache-Control", "public, max-age=" + std::to_string((expires - now) / 1000));
    res.set_header("ETag", ETagOf(body));
    res.set_header("Expires", HttpDate(expires / 1000));
    res.set_header("Last-Modified", HttpDate(now / 1000));
    res.status = 200;
    res.set_content(body, kJson);
  }

  static bool IsNpc(std::int64_t id) { return Universe::IsNpcCharacterId(id); }

  void HandleEsi(const httplib::Request& req, httplib::Response& res, bool post) {
    std::int64_t now = NowMs();
    const EsiRoute r = MatchEsi(req.path, post);
    ++esi_requests;
    esi_max.Add(now);
    route_max[static_cast<std::size_t>(r.route)].Add(now);
    if (r.route == kCharacter && IsNpc(r.id)) ++npc_char;
    const bool bucket_route = r.route == kKillmail;
    FaultInjector::Request fault = faults.Begin(r.route);
    if (fault.Delay()) now = NowMs();

    // the error limit (and forced 420 storms) come first, on every route
    if (now < storm_until_ms.load() || errlim.Exhausted(now)) {
      ++c420;
      SetError(res, 420,
               "This software has exceeded the error limit for ESI. If you are a user, please "
               "contact the maintainer of this software. If you are a developer/maintainer, "
               "please make a greater effort in the future to receive valid responses.");
      ErrorLimitHeaders(res, now);
      Record(r.route, 420);
      return;
    }

    if (fault.Hang(res)) {
      Record(r.route, 504);
      return;
    }

    int status = fault.Fail(res);
    int retry_after = 0;
    if (status != 0) {
      // a 5xx from the fault injector; it counts as an error like any other
    } else if (bucket_route && !kmbucket.Admit(now, retry_after)) {
      SetError(res, 429, "Too many requests");
      res.set_header("Retry-After", std::to_string(retry_after));
      ++c429;
      status = 429;
    } else if (r.route == kEsiUnknown) {
      SetError(res, 404, "Not found");
      status = 404;
    } else if (post) {
      ServeEsiPost(req, res, r, now);
      status = res.status;
    } else {
      ServeEsiGet(req, res, r, now);
      status = res.status;
    }

    if (status >= 400) {
      errlim.AddError(now);
      ++errors_counted;
    }
    if (status == 200) fault.Corrupt(res, kJson);

    if (bucket_route) {
      int cost = status < 300 ? 2 : status < 400 ? 1 : (status < 500 ? (status == 429 ? 0 : 5) : 0);
      int remaining = kmbucket.Charge(now, cost);
      res.set_header("X-Ratelimit-Group", "killmail");
      res.set_header("X-Ratelimit-Limit", kmbucket.LimitHeader());
      res.set_header("X-Ratelimit-Remaining", std::to_string(remaining));
      res.set_header("X-Ratelimit-Used", std::to_string(cost));
      if (error_headers_everywhere.load()) ErrorLimitHeaders(res, now);
    } else {
      ErrorLimitHeaders(res, now);
    }
    Record(r.route, status);
  }

  // ---- zKillboard --------------------------------------------------------------------------------
  void HandleZkb(const httplib::Request& req, httplib::Response& res) {
    std::int64_t now = NowMs();
    const ZkbRoute zr = MatchZkb(req.path);
    const int route = zr.route;
    const std::string_view rest = zr.rest;
    const auto& seg = zr.seg;
    ++zkb_requests;
    zkb_max.Add(now);
    route_max[static_cast<std::size_t>(route)].Add(now);
    FaultInjector::Request fault = faults.Begin(route);
    auto finish = [&](int st) { Record(route, st); };

    if (req.target.find('?') != std::string::npos) {
      SetError(res, 403, "Do not include a query string to evade cache");
      return finish(403);
    }
    if (rest.empty() || rest.back() != '/') {
      int st = zkb_missing_slash_status.load();
      res.status = st;
      if (st != 200) res.set_content(json{{"error", "Missing trailing slash"}}.dump(), "application/json");
      return finish(st);
    }
    int retry = 0;
    if (!zkblim.Admit(now, retry)) {
      ++zkb429;
      SetError(res, 429, "Too many requests, slow down");
      res.set_header("Retry-After", std::to_string(retry));
      return finish(429);
    }
    fault.Delay();
    if (fault.Hang(res)) return finish(504);
    if (int st = fault.Fail(res)) return finish(st);

    std::vector<std::int64_t> ids;
    std::int64_t id = 0;
    if (route == kZkbCharacter && (seg.size() == 2 || (seg.size() == 4 && seg[2] == "page")) &&
        ParseId(seg[1], id)) {
      std::int64_t page = 1;
      if (seg.size() == 4 && (!ParseId(seg[3], page) || page < 1 || page > zkb_max_page.load())) {
        SetError(res, 400, "page must be between 1 and " + std::to_string(zkb_max_page.load()));
        return finish(400);
      }
      ids = uni.CharacterKillmailPage(id, static_cast<int>(page), zkb_page_size.load());
    } else if (route == kZkbKill && seg.size() == 2 && ParseId(seg[1], id)) {
      if (uni.KillmailHash(id)) ids.push_back(id);
    } else {
      std::string bad = seg.empty() ? std::string("(empty)") : std::string(seg[0]);
      SetError(res, 400, bad + " is an invalid parameter");
      return finish(400);
    }
    const bool full = zkb_full.load();
    json out = json::array();
    for (auto kid : ids) {
      auto z = uni.Zkb(kid);
      if (!z) continue;
      if (full) {
        json km = *uni.Killmail(kid);
        km["zkb"] = std::move(*z);
        out.push_back(std::move(km));
      } else {
        out.push_back(json{{"killmail_id", kid}, {"zkb", std::move(*z)}});
      }
    }
    std::string body = out.dump();
    res.status = 200;
    res.set_header("Cache-Control", "public, max-age=3600");
    res.set_content(body, "application/json; charset=utf-8");
    fault.Corrupt(res, "application/json; charset=utf-8");
    finish(200);
  }

  // ---- admin -------------------------------------------------------------------------------------
  json StatsJson() {
    std::int64_t now = NowMs();
    json routes = json::object();
    json totals = json::object();
    std::array<std::uint64_t, kStatusSlots> tot{};
    for (int r = 0; r < kRouteCount; ++r) {
      json by = json::object();
      std::uint64_t sum = 0;
      for (int s = 0; s < kStatusSlots; ++s) {
        std::uint64_t c = route_status[static_cast<std::size_t>(r)][static_cast<std::size_t>(s)].load();
        if (!c) continue;
        by[StatusSlotName(s)] = c;
        sum += c;
        if (r != kAdmin) tot[static_cast<std::size_t>(s)] += c;
      }
      std::uint64_t mx = route_max[static_cast<std::size_t>(r)].Max();
      if (sum == 0 && mx == 0) continue;
      routes[RouteName(r)] = {{"total", sum}, {"by_status", by}, {"max_per_second", mx}};
    }
    for (int s = 0; s < kStatusSlots; ++s)
      if (tot[static_cast<std::size_t>(s)])
        totals[StatusSlotName(s)] = tot[static_cast<std::size_t>(s)];
    std::uint64_t distinct = 0, max_hits = 0;
    std::string max_url;
    cache.Summary(distinct, max_hits, max_url);
    std::int64_t storm = storm_until_ms.load();
    json j;
    j["since_unix_ms"] = stats_origin_ms.load();
    j["now_unix_ms"] = now;
    j["esi_requests"] = esi_requests.load();
    j["zkb_requests"] = zkb_requests.load();
    j["admin_requests"] = admin_requests.load();
    j["routes"] = routes;
    j["status"] = totals;
    j["max_per_second"] = {{"esi", esi_max.Max()}, {"zkb", zkb_max.Max()}};
    j["error_limited_420"] = c420.load();
    j["rate_limited_429"] = c429.load();
    j["zkb_rate_limited_429"] = zkb429.load();
    j["errors_counted"] = errors_counted.load();
    j["conditional_requests"] = conditional.load();
    j["not_modified_304"] = not_modified.load();
    j["npc_character_requests"] = npc_char.load();
    j["repeated_before_expires"] = repeated.load();
    j["repeated_before_expires_unconditional"] = repeated_uncond.load();
    j["distinct_urls"] = distinct;
    j["max_requests_per_url"] = max_hits;
    j["most_requested_url"] = max_url;
    j["faults"] = faults.CountersJson();
    j["error_limit"] = {{"limit", errlim.Limit()},
                        {"window_seconds", errlim.WindowSeconds()},
                        {"remain", now < storm ? 0 : errlim.Remain(now)},
                        {"reset_seconds", errlim.ResetSeconds(now)},
                        {"storm_remaining_ms", std::max<std::int64_t>(0, storm - now)}};
    j["killmail_bucket"] = {{"limit", kmbucket.LimitHeader()},
                            {"tokens", kmbucket.Tokens()},
                            {"used", kmbucket.Used(now)},
                            {"remaining", kmbucket.Remaining(now)}};
    return j;
  }

  json ConfigJson() const {
    return {{"cache_seconds", cache_seconds.load()},
            {"error_limit", errlim.Limit()},
            {"error_window_seconds", errlim.WindowSeconds()},
            {"error_headers_on_bucket_routes", error_headers_everywhere.load()},
            {"killmail_bucket_tokens", const_cast<TokenBucket&>(kmbucket).Tokens()},
            {"killmail_bucket_window_seconds", const_cast<TokenBucket&>(kmbucket).WindowSeconds()},
            {"zkb_format", zkb_full.load() ? "full" : "ids"},
            {"zkb_page_size", zkb_page_size.load()},
            {"zkb_max_page", zkb_max_page.load()},
            {"zkb_rate", zkblim.Rate()},
            {"zkb_missing_slash_status", zkb_missing_slash_status.load()}};
  }

  void UpdateConfig(const json& j) {
    if (j.contains("cache_seconds")) cache_seconds = j["cache_seconds"].get<int>();
    if (j.contains("error_limit") || j.contains("error_window_seconds"))
      errlim.Configure(j.value("error_limit", errlim.Limit()),
                       j.value("error_window_seconds", errlim.WindowSeconds()));
    if (j.contains("error_headers_on_bucket_routes"))
      error_headers_everywhere = j["error_headers_on_bucket_routes"].get<bool>();
    if (j.contains("killmail_bucket_tokens") || j.contains("killmail_bucket_window_seconds"))
      kmbucket.Configure(j.value("killmail_bucket_tokens", kmbucket.Tokens()),
                         j.value("killmail_bucket_window_seconds", kmbucket.WindowSeconds()));
    if (j.contains("zkb_format")) {
      std::string f = j["zkb_format"].get<std::string>();
      if (f != "ids" && f != "full") throw std::invalid_argument("zkb_format must be ids or full");
      zkb_full = f == "full";
    }
    if (j.contains("zkb_page_size")) zkb_page_size = std::max(1, j["zkb_page_size"].get<int>());
    if (j.contains("zkb_max_page")) zkb_max_page = std::max(1, j["zkb_max_page"].get<int>());
    if (j.contains("zkb_rate")) zkblim.Configure(j["zkb_rate"].get<double>());
    if (j.contains("zkb_missing_slash_status"))
      zkb_missing_slash_status = j["zkb_missing_slash_status"].get<int>();
  }

  static void Json(httplib::Response& res, const json& j, int status = 200) {
    res.status = status;
    res.set_content(j.dump(), "application/json");
  }

  static json IdList(const std::vector<std::int64_t>& v) { return json(v); }

  void HandleAdmin(const httplib::Request& req, httplib::Response& res, bool post) {
    ++admin_requests;
    Record(kAdmin, 200);
    auto seg = Split(std::string_view(req.path).substr(kAdminPrefix.size()));
    const std::size_t n = seg.size();
    auto body_json = [&]() -> json {
      if (req.body.empty()) return json::object();
      return json::parse(req.body);
    };
    try {
      if (!post && n == 1 && seg[0] == "stats") return Json(res, StatsJson());
      if (!post && n == 1 && seg[0] == "timeline") {
        return Json(res, {{"since_unix_ms", stats_origin_ms.load()},
                          {"esi_per_second", esi_max.PerSecond()}});
      }
      if (post && n == 1 && seg[0] == "reset-stats") {
        ResetStats();
        return Json(res, {{"ok", true}});
      }
      if (post && n == 1 && seg[0] == "reset-limits") {
        ResetLimits();
        return Json(res, {{"ok", true}});
      }
      if (post && n == 1 && seg[0] == "reset") {
        faults.Set(FaultConfig{});
        ResetLimits();
        cache.Clear();
        ResetStats();
        return Json(res, {{"ok", true}});
      }
      if (post && n == 1 && seg[0] == "invalidate-cache") {
        cache.Clear();
        return Json(res, {{"ok", true}});
      }
      if (n == 1 && seg[0] == "faults") {
        if (post) {
          FaultConfig f = faults.Get();
          f.Update(body_json());
          faults.Set(f);
        }
        return Json(res, faults.Get().ToJson());
      }
      if (post && n == 2 && seg[0] == "faults" && seg[1] == "clear") {
        faults.Set(FaultConfig{});
        return Json(res, faults.Get().ToJson());
      }
      if (post && n == 1 && seg[0] == "storm") {
        double secs = 0;
        if (req.has_param("seconds")) secs = std::stod(req.get_param_value("seconds"));
        else secs = body_json().value("seconds", 0.0);
        storm_until_ms = NowMs() + static_cast<std::int64_t>(secs * 1000);
        return Json(res, {{"ok", true}, {"seconds", secs}});
      }
      if (n == 1 && seg[0] == "config") {
        if (post) UpdateConfig(body_json());
        return Json(res, ConfigJson());
      }
      if (n >= 1 && seg[0] == "truth") return Truth(req, res, seg);
      if (post && n >= 3 && seg[0] == "mutate") return Mutate(req, res, seg);
    } catch (const std::exception& e) {
      return Json(res, {{"error", e.what()}}, 400);
    }
    Json(res, {{"error", "unknown admin endpoint"}}, 404);
  }

  void Truth(const httplib::Request& req, httplib::Response& res, const std::vector<std::string_view>& seg) {
    const std::size_t n = seg.size();
    if (n == 1) {
      const auto& p = uni.Params();
      return Json(res, {{"seed", p.seed},
                        {"alliances", p.alliances},
                        {"corporations", p.corporations},
                        {"npc_corporations", p.npc_corporations},
                        {"characters", p.characters},
                        {"npc_characters", p.npc_characters},
                        {"types", p.types},
                        {"killmails", p.killmails},
                        {"history_characters", uni.HistoryCharacterIds()},
                        {"samples_dir", p.samples_dir},
                        {"samples_loaded", uni.SampleCount()},
                        {"esi_base_url", "http://127.0.0.1:" + std::to_string(port)},
                        {"zkb_base_url", "http://127.0.0.1:" + std::to_string(port) + "/zkb/api"},
                        {"mutations", uni.MutationCount()}});
    }
    std::string_view what = seg[1];
    if (n == 2) {
      if (what == "alliances") return Json(res, IdList(uni.AllAllianceIds()));
      if (what == "corporations") return Json(res, IdList(uni.AllCorporationIds()));
      if (what == "npc-corporations") return Json(res, uni.NpcCorpIds());
      if (what == "characters") return Json(res, IdList(uni.AllCharacterIds()));
      if (what == "npc-characters") return Json(res, IdList(uni.NpcCharacterIds()));
      if (what == "deleted-characters" || what == "missing") return Json(res, IdList(uni.DeletedCharacterIds()));
      if (what == "history-characters") return Json(res, IdList(uni.HistoryCharacterIds()));
      if (what == "types") return Json(res, IdList(uni.AllTypeIds()));
      if (what == "killmails") {
        auto all = uni.AllKillmailIds();
        std::size_t off = req.has_param("offset") ? std::stoull(req.get_param_value("offset")) : 0;
        std::size_t lim = req.has_param("limit") ? std::stoull(req.get_param_value("limit")) : all.size();
        json out = json::array();
        for (std::size_t i = off; i < all.size() && i < off + lim; ++i)
          out.push_back({{"killmail_id", all[i]}, {"hash", *uni.KillmailHash(all[i])}});
        return Json(res, out);
      }
    }
    std::int64_t id = 0;
    if (n >= 3 && ParseId(seg[2], id)) {
      if (n == 4 && (what == "characters" || what == "character") && seg[3] == "killmails")
        return Json(res, IdList(uni.CharacterKillmails(id)));
      std::optional<json> rec;
      if (n == 3) {
        if (what == "alliance") rec = uni.Alliance(id);
        else if (what == "alliance-corporations") rec = uni.AllianceCorporations(id);
        else if (what == "corporation") rec = uni.Corporation(id);
        else if (what == "character") rec = uni.Character(id);
        else if (what == "type") rec = uni.Type(id);
        else if (what == "killmail") {
          rec = uni.Killmail(id);
          if (rec) rec = json{{"killmail", *rec}, {"hash", *uni.KillmailHash(id)}};
        } else if (what == "zkb") rec = uni.Zkb(id);
        else if (what == "affiliation") rec = uni.Affiliation(id);
        else if (what == "name") rec = uni.Name(id);
        else return Json(res, {{"error", "unknown truth kind"}}, 404);
        if (rec) return Json(res, *rec);
        return Json(res, {{"error", "not found"}, {"deleted", what == "character" && uni.IsDeletedCharacter(id)}}, 404);
      }
    }
    Json(res, {{"error", "unknown truth endpoint"}}, 404);
  }

  void Mutate(const httplib::Request& req, httplib::Response& res, const std::vector<std::string_view>& seg) {
    std::int64_t id = 0, other = 0;
    if (!ParseId(seg[2], id)) return Json(res, {{"error", "bad id"}}, 400);
    const std::size_t n = seg.size();
    bool ok = false;
    if (seg[1] == "corporation" && n == 4 && seg[3] == "leave-alliance") ok = uni.CorporationLeaveAlliance(id);
    else if (seg[1] == "corporation" && n == 5 && seg[3] == "join-alliance" && ParseId(seg[4], other))
      ok = uni.CorporationJoinAlliance(id, other);
    else if (seg[1] == "alliance" && n == 4 && seg[3] == "remove-executor") ok = uni.AllianceRemoveExecutor(id);
    else if (seg[1] == "character" && n == 5 && seg[3] == "move" && ParseId(seg[4], other))
      ok = uni.CharacterMove(id, other);
    else return Json(res, {{"error", "unknown mutation"}}, 404);
    if (!ok) return Json(res, {{"error", "unknown entity"}}, 404);
    if (req.has_param("invalidate") && req.get_param_value("invalidate") != "0") cache.Clear();
    Json(res, {{"ok", true}, {"mutations", uni.MutationCount()}});
  }

  // ---- dispatch ----------------------------------------------------------------------------------
  void Dispatch(const httplib::Request& req, httplib::Response& res, bool post) {
    switch (ServiceOf(req.path)) {
      case Service::kAdmin: return HandleAdmin(req, res, post);
      case Service::kZkb:
        if (post) {
          res.status = 405;
          return;
        }
        return HandleZkb(req, res);
      case Service::kEsi: return HandleEsi(req, res, post);
    }
  }
};

// ================================================================================================
Server::Server(Options opts) : impl_(std::make_unique<Impl>(std::move(opts))) {}
Server::~Server() { Stop(); }

bool Server::Start() {
  Impl& m = *impl_;
  if (m.svr) return true;
  if (m.opts.host != "127.0.0.1" && m.opts.host != "localhost") return false;  // loopback only
  m.svr = std::make_unique<httplib::Server>();
  auto& s = *m.svr;
  const int threads = std::max(4, m.opts.threads);
  s.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
  s.set_tcp_nodelay(true);
  s.set_keep_alive_max_count(100000000);
  s.set_keep_alive_timeout(std::max(1, m.opts.keep_alive_seconds));
  s.set_read_timeout(30, 0);
  s.set_write_timeout(30, 0);
  s.set_payload_max_length(16 * 1024 * 1024);
  int* fd_slot = &m.listen_fd;
  s.set_socket_options([fd_slot](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    *fd_slot = sock;
  });
  Impl* ip = &m;
  s.set_pre_routing_handler([ip](const httplib::Request& req, httplib::Response& res) {
    if (req.method == "GET" || req.method == "HEAD") {
      ip->Dispatch(req, res, false);
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  s.Post(".*", [ip](const httplib::Request& req, httplib::Response& res) { ip->Dispatch(req, res, true); });
  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    res.status = 500;
    res.set_content(json{{"error", what}}.dump(), kJson);
  });

  const std::string host = "127.0.0.1";
  int port = m.opts.port;
  if (port == 0) {
    port = s.bind_to_any_port(host);
    if (port <= 0) return false;
  } else if (!s.bind_to_port(host, port)) {
    return false;
  }
  m.port = port;
  if (m.listen_fd >= 0) ::listen(m.listen_fd, std::max(16, m.opts.listen_backlog));  // raise backlog (httplib uses 5)
  m.stop.Reset();
  m.thread = std::thread([&s] { s.listen_after_bind(); });
  for (int i = 0; i < 2000 && !s.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (!m.opts.port_file.empty()) {
    std::string tmp = m.opts.port_file + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << port << "\n";
    }
    std::filesystem::rename(tmp, m.opts.port_file);
  }
  return true;
}

void Server::Stop() {
  Impl& m = *impl_;
  m.stop.Stop();
  if (m.svr) {
    m.svr->stop();
    ShutdownAcceptedSockets(m.port, m.listen_fd);
    if (m.thread.joinable()) m.thread.join();
    m.svr.reset();
  }
}

void Server::Wait() {
  impl_->stop.Wait();
}

int Server::Port() const { return impl_->port; }
std::string Server::BaseUrl() const { return "http://127.0.0.1:" + std::to_string(impl_->port); }
Universe& Server::GetUniverse() { return impl_->uni; }
const Options& Server::GetOptions() const { return impl_->opts; }
nlohmann::json Server::Stats() const { return impl_->StatsJson(); }
void Server::ResetStats() { impl_->ResetStats(); }
void Server::ResetLimits() { impl_->ResetLimits(); }
void Server::SetFaults(const FaultConfig& f) { impl_->faults.Set(f); }
FaultConfig Server::Faults() const { return impl_->faults.Get(); }
void Server::StartErrorStorm(double seconds) {
  impl_->storm_until_ms = NowMs() + static_cast<std::int64_t>(seconds * 1000);
}
void Server::UpdateConfig(const nlohmann::json& j) { impl_->UpdateConfig(j); }
nlohmann::json Server::Config() const { return impl_->ConfigJson(); }
void Server::InvalidateCache() { impl_->cache.Clear(); }

}  // namespace fakeesi
