#include "config/config.hpp"

#include <cstdlib>
#include <filesystem>

#include "core/errors.hpp"
#include "db/connection.hpp"
#include "esi/esi_client.hpp"
#include "metrics/metrics_server.hpp"
#include "push/redis_url.hpp"

extern char** environ;

namespace kr::config {

namespace {

constexpr const char* kDefaultEsi = "https://esi.evetech.net";
constexpr const char* kDefaultZkb = "https://zkillboard.com/api";
constexpr const char* kDefaultR2z2 = "https://r2z2.zkillboard.com";
constexpr const char* kDefaultCompatibilityDate = "2025-08-26";

std::map<std::string, std::string> ProcessEnv() {
    std::map<std::string, std::string> env;
    for (char** e = environ; e && *e; ++e) {
        std::string kv(*e);
        auto eq = kv.find('=');
        if (eq != std::string::npos) env.emplace(kv.substr(0, eq), kv.substr(eq + 1));
    }
    return env;
}

double ParseNumber(const std::string& name, const std::string& v, double min, double max) {
    char* end = nullptr;
    double d = std::strtod(v.c_str(), &end);
    if (v.empty() || end == nullptr || *end != '\0' || d < min || d > max) {
        throw FatalError(name + "='" + v + "' is not a number between " + std::to_string(static_cast<long long>(min)) +
                         " and " + std::to_string(static_cast<long long>(max)));
    }
    return d;
}

void CheckHttpUrl(const std::string& name, const std::string& v) {
    if (v.rfind("http://", 0) != 0 && v.rfind("https://", 0) != 0) {
        throw FatalError(name + "='" + v + "' is not an http:// or https:// URL");
    }
}

std::string NormaliseDatabaseUrl(const std::string& v) {
    if (v.rfind("postgresql://", 0) == 0 || v.rfind("postgres://", 0) == 0) {
        if (v == "postgresql://" || v == "postgres://") {
            throw FatalError("DATABASE_URL='" + db::MaskUrl(v) + "' names no server");
        }
        return v;
    }
    if (v.rfind("sqlite:", 0) == 0) {
        std::string rest = v.substr(7);
        if (rest.rfind("//", 0) == 0) rest = rest.substr(2);
        if (rest.empty()) throw FatalError("DATABASE_URL='" + v + "' names no file (use sqlite:///path/file.db)");
        return v;
    }
    throw FatalError("DATABASE_URL='" + db::MaskUrl(v) +
                     "' is not supported: use postgresql://user:pass@host:port/db or sqlite:///path/file.db");
}

}  // namespace

const char* SourceName(Source s) {
    switch (s) {
        case Source::kDefault: return "default";
        case Source::kEnv: return "environment";
        case Source::kFlag: return "flag";
    }
    return "?";
}

bool Config::UsesPostgres() const {
    return database_url.rfind("postgresql://", 0) == 0 || database_url.rfind("postgres://", 0) == 0;
}

std::string DefaultUserAgent() { return esi::DefaultUserAgent(); }

Config Load(const Overrides& flags, const std::map<std::string, std::string>* env_in) {
    std::map<std::string, std::string> env = env_in ? *env_in : ProcessEnv();
    Config c;
    auto get = [&](const std::string& name, const std::string& def) -> std::string {
        if (auto f = flags.values.find(name); f != flags.values.end()) {
            c.sources[name] = Source::kFlag;
            return f->second;
        }
        if (auto e = env.find(name); e != env.end() && !e->second.empty()) {
            c.sources[name] = Source::kEnv;
            return e->second;
        }
        c.sources[name] = Source::kDefault;
        return def;
    };
    std::string default_db = "sqlite://" + (std::filesystem::current_path() / "killreport.db").string();
    c.database_url = NormaliseDatabaseUrl(get("DATABASE_URL", default_db));
    std::string amqp = get("RABBITMQ_URL", "");
    if (!amqp.empty()) {
        if (amqp.rfind("amqp://", 0) != 0 && amqp.rfind("amqps://", 0) != 0) {
            throw FatalError("RABBITMQ_URL='" + db::MaskUrl(amqp) + "' is not an amqp:// URL");
        }
        c.rabbitmq_url = amqp;
        // The broker's ack is not in the SQLite file: a commit must be on disk before it.
        if (!c.UsesPostgres() && c.database_url.find('?') == std::string::npos) c.database_url += "?synchronous=full";
    }
    c.esi_base_url = get("ESI_BASE_URL", kDefaultEsi);
    CheckHttpUrl("ESI_BASE_URL", c.esi_base_url);
    while (c.esi_base_url.size() > 8 && c.esi_base_url.back() == '/') c.esi_base_url.pop_back();
    c.zkillboard_base_url = get("ZKILLBOARD_BASE_URL", kDefaultZkb);
    CheckHttpUrl("ZKILLBOARD_BASE_URL", c.zkillboard_base_url);
    while (c.zkillboard_base_url.size() > 8 && c.zkillboard_base_url.back() == '/') c.zkillboard_base_url.pop_back();
    c.r2z2_base_url = get("R2Z2_BASE_URL", kDefaultR2z2);
    CheckHttpUrl("R2Z2_BASE_URL", c.r2z2_base_url);
    while (c.r2z2_base_url.size() > 8 && c.r2z2_base_url.back() == '/') c.r2z2_base_url.pop_back();
    c.r2z2_rate_limit = ParseNumber("R2Z2_RATE_LIMIT", get("R2Z2_RATE_LIMIT", "10"), 0, 1000);
    const std::string live = get("KILLREPORT_LIVE", "1");
    if (live != "0" && live != "1" && live != "false" && live != "true") {
        throw FatalError("KILLREPORT_LIVE='" + live + "' is not 1 or 0");
    }
    c.live = live == "1" || live == "true";
    const std::string refresh = get("KILLREPORT_REFRESH", "1");
    if (refresh != "0" && refresh != "1" && refresh != "false" && refresh != "true") {
        throw FatalError("KILLREPORT_REFRESH='" + refresh + "' is not 1 or 0");
    }
    c.refresh = refresh == "1" || refresh == "true";
    c.refresh_share = ParseNumber("KILLREPORT_REFRESH_SHARE", get("KILLREPORT_REFRESH_SHARE", "0.2"), 0, 1);
    const std::string derive = get("KILLREPORT_DERIVE", "1");
    if (derive != "0" && derive != "1" && derive != "false" && derive != "true") {
        throw FatalError("KILLREPORT_DERIVE='" + derive + "' is not 1 or 0");
    }
    c.derive = derive == "1" || derive == "true";
    c.esi_rate_limit = ParseNumber("ESI_RATE_LIMIT", get("ESI_RATE_LIMIT", "50"), 0, 100000);
    c.zkillboard_rate_limit = ParseNumber("ZKILLBOARD_RATE_LIMIT", get("ZKILLBOARD_RATE_LIMIT", "1"), 0, 1000);
    c.user_agent = get("KILLREPORT_USER_AGENT", DefaultUserAgent());
    c.compatibility_date = get("ESI_COMPATIBILITY_DATE", kDefaultCompatibilityDate);
    c.max_attempts =
        static_cast<int>(ParseNumber("KILLREPORT_MAX_ATTEMPTS", get("KILLREPORT_MAX_ATTEMPTS", "5"), 1, 100));
    c.max_age_seconds = static_cast<std::int64_t>(
        ParseNumber("KILLREPORT_MAX_AGE", get("KILLREPORT_MAX_AGE", "0"), 0, 10.0 * 365 * 86400));
    c.db_connections =
        static_cast<int>(ParseNumber("KILLREPORT_DB_CONNECTIONS", get("KILLREPORT_DB_CONNECTIONS", "2"), 1, 64));
    c.outage_limit_seconds = static_cast<std::int64_t>(
        ParseNumber("KILLREPORT_OUTAGE_LIMIT", get("KILLREPORT_OUTAGE_LIMIT", "60"), 1, 86400));
    c.universe_check_seconds = static_cast<std::int64_t>(
        ParseNumber("KILLREPORT_UNIVERSE_CHECK", get("KILLREPORT_UNIVERSE_CHECK", "86400"), 0, 365.0 * 86400));
    const std::string pubsub = get("USE_REDIS_PUBSUB", "false");
    if (pubsub != "0" && pubsub != "1" && pubsub != "false" && pubsub != "true") {
        throw FatalError("USE_REDIS_PUBSUB='" + pubsub + "' is not true or false");
    }
    c.use_redis_pubsub = pubsub == "1" || pubsub == "true";
    c.redis_url = get("REDIS_URL", "");
    if (!c.redis_url.empty()) push::ParseRedisUrl(c.redis_url);  // a bad one fails at once
    if (c.use_redis_pubsub && c.redis_url.empty()) throw FatalError("USE_REDIS_PUBSUB=true needs REDIS_URL");
    c.progress_every_seconds =
        ParseNumber("KILLREPORT_PROGRESS_EVERY", get("KILLREPORT_PROGRESS_EVERY", "10"), 0, 3600);
    c.log_level = get("LOG_LEVEL", "info");
    if (c.log_level != "debug" && c.log_level != "info" && c.log_level != "warn" && c.log_level != "error" &&
        c.log_level != "trace") {
        throw FatalError("LOG_LEVEL='" + c.log_level + "' is not one of debug, info, warn, error");
    }
    c.log_format = get("LOG_FORMAT", "text");
    if (c.log_format != "text" && c.log_format != "json") {
        throw FatalError("LOG_FORMAT='" + c.log_format + "' is not one of text, json");
    }
    c.metrics_addr = get("KILLREPORT_METRICS_ADDR", "");
    // Set but empty (KILLREPORT_METRICS_ADDR=, --metrics-addr '') turns /metrics off; unset is the
    // command's default address.
    if (c.sources["KILLREPORT_METRICS_ADDR"] == Source::kDefault && env.count("KILLREPORT_METRICS_ADDR")) {
        c.sources["KILLREPORT_METRICS_ADDR"] = Source::kEnv;
    }
    c.metrics_addr_given = c.sources["KILLREPORT_METRICS_ADDR"] != Source::kDefault;
    if (!c.metrics_addr.empty()) metrics::ParseListenAddress(c.metrics_addr);  // a bad one fails at once
    return c;
}

std::vector<std::string> Describe(const Config& c, const std::string& default_metrics) {
    auto src = [&](const std::string& n) {
        auto it = c.sources.find(n);
        return std::string(SourceName(it == c.sources.end() ? Source::kDefault : it->second));
    };
    auto fmt = [](double d) {
        std::string s = std::to_string(d);
        while (!s.empty() && s.back() == '0') s.pop_back();
        if (!s.empty() && s.back() == '.') s.pop_back();
        return s;
    };
    std::vector<std::string> out;
    auto line = [&](const std::string& n, const std::string& v) {
        out.push_back(n + " = " + v + "  (" + src(n) + ")");
    };
    line("DATABASE_URL", db::MaskUrl(c.database_url));
    line("RABBITMQ_URL", c.rabbitmq_url ? db::MaskUrl(*c.rabbitmq_url) : "(unset: the queue lives in the database)");
    line("ESI_BASE_URL", c.esi_base_url);
    line("ZKILLBOARD_BASE_URL", c.zkillboard_base_url);
    line("R2Z2_BASE_URL", c.r2z2_base_url);
    line("R2Z2_RATE_LIMIT", fmt(c.r2z2_rate_limit) + (c.r2z2_rate_limit == 0 ? " (off)" : " req/s"));
    line("KILLREPORT_LIVE", c.live ? "1 (`run` polls the live feed)" : "0 (off)");
    line("KILLREPORT_REFRESH", c.refresh ? "1 (`run` runs the refresh schedule)" : "0 (off: `refresh` from a timer)");
    line("KILLREPORT_REFRESH_SHARE",
         fmt(c.refresh_share) + (c.refresh_share >= 1 ? " (no cap: refresh traffic shares the whole budget)"
                                                      : " of the ESI budget for refresh traffic while new work waits"));
    line("KILLREPORT_DERIVE", c.derive ? "1 (killmail writes maintain killmail_filters and the kill stats)"
                                       : "0 (off: the original's web UI's tables are not maintained; derive:rebuild "
                                         "fills them)");
    line("ESI_RATE_LIMIT", fmt(c.esi_rate_limit) + (c.esi_rate_limit == 0 ? " (off)" : " req/s"));
    line("ZKILLBOARD_RATE_LIMIT", fmt(c.zkillboard_rate_limit) + (c.zkillboard_rate_limit == 0 ? " (off)" : " req/s"));
    line("KILLREPORT_USER_AGENT", c.user_agent);
    line("ESI_COMPATIBILITY_DATE", c.compatibility_date);
    line("KILLREPORT_MAX_ATTEMPTS", std::to_string(c.max_attempts));
    line("KILLREPORT_MAX_AGE",
         c.max_age_seconds == 0 ? "0 (ESI's Expires only)" : std::to_string(c.max_age_seconds) + " s");
    line("KILLREPORT_DB_CONNECTIONS", std::to_string(c.db_connections));
    line("KILLREPORT_OUTAGE_LIMIT", std::to_string(c.outage_limit_seconds) + " s");
    line("KILLREPORT_UNIVERSE_CHECK", c.universe_check_seconds == 0
                                          ? "0 (off: run queue:regions, queue:constellations, queue:solar-systems)"
                                          : std::to_string(c.universe_check_seconds) + " s");
    line("USE_REDIS_PUBSUB", c.use_redis_pubsub ? "true (new killmails published on Redis channel NEW_KILLMAIL)"
                                                : "false (PostgreSQL: NOTIFY killmail_new)");
    line("REDIS_URL", c.redis_url.empty() ? "(unset)" : db::MaskUrl(c.redis_url));
    line("LOG_LEVEL", c.log_level);
    line("LOG_FORMAT", c.log_format);
    line("KILLREPORT_PROGRESS_EVERY",
         fmt(c.progress_every_seconds) + " s (progress lines when stderr is not a terminal)");
    line("KILLREPORT_METRICS_ADDR",
         !c.metrics_addr_given
             ? "(unset: each long-running command on its own port: " +
                   (default_metrics.empty() ? "run on 127.0.0.1:" + std::to_string(kDefaultMetricsPort) + ", …"
                                            : default_metrics) +
                   "; a default port in use is a warning)"
         : c.metrics_addr.empty() ? "(empty: off)"
                                  : c.metrics_addr + " (run and worker:* serve /metrics there; in use = an error)");
    return out;
}

}  // namespace kr::config
