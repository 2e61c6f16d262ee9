#pragma once
// One typed configuration. Precedence: command-line flag > environment variable > default.
// The environment names are the original KillReport's where it has one (DATABASE_URL,
// RABBITMQ_URL) so an operator's existing environment works unchanged.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kr::config {

enum class Source { kDefault, kEnv, kFlag };

/// /metrics of `run` when KILLREPORT_METRICS_ADDR is not set; each worker:* the ports after it.
inline constexpr int kDefaultMetricsPort = 9464;
const char* SourceName(Source s);

struct Config {
    std::string database_url;                     ///< DATABASE_URL: postgresql://… or sqlite:///path
    std::optional<std::string> rabbitmq_url;      ///< RABBITMQ_URL: amqp://…; unset = queue in the database
    std::string esi_base_url;                     ///< ESI_BASE_URL
    std::string zkillboard_base_url;              ///< ZKILLBOARD_BASE_URL
    double esi_rate_limit = 50;                   ///< ESI_RATE_LIMIT requests/s for the whole deployment; 0 = off
    double zkillboard_rate_limit = 1;             ///< ZKILLBOARD_RATE_LIMIT requests/s; 0 = off
    std::string r2z2_base_url;                    ///< R2Z2_BASE_URL: zKillboard's live feed
    double r2z2_rate_limit = 10;                  ///< R2Z2_RATE_LIMIT requests/s for the whole deployment; 0 = off
    bool live = true;                             ///< KILLREPORT_LIVE: `run` polls the live feed (0 = off)
    bool refresh = true;                          ///< KILLREPORT_REFRESH: `run` keeps stored data fresh (0 = off)
    double refresh_share = 0.2;                   ///< KILLREPORT_REFRESH_SHARE: refresh traffic's share of the
                                                  ///< ESI budget while new work waits (1 = no cap)
    bool derive = true;                           ///< KILLREPORT_DERIVE: killmail writes maintain the derived
                                                  ///< tables the original's web UI reads (0 = not maintained)
    std::string user_agent;                       ///< KILLREPORT_USER_AGENT
    std::string compatibility_date;               ///< ESI_COMPATIBILITY_DATE (X-Compatibility-Date)
    int max_attempts = 5;                         ///< KILLREPORT_MAX_ATTEMPTS before a dead letter
    std::int64_t max_age_seconds = 0;             ///< KILLREPORT_MAX_AGE: refresh entities older than this even
                                                  ///< when ESI's Expires is later; 0 = ESI's Expires only
    int db_connections = 2;                       ///< KILLREPORT_DB_CONNECTIONS per process
    std::int64_t universe_check_seconds = 86400;  ///< KILLREPORT_UNIVERSE_CHECK: how often `run` looks at
                                                  ///< ESI's universe lists (static data); 0 = never
    std::int64_t outage_limit_seconds = 60;       ///< KILLREPORT_OUTAGE_LIMIT: --until-idle gives up (exit 1)
                                                  ///< after the database has refused writes this long
    bool use_redis_pubsub = false;                ///< USE_REDIS_PUBSUB (the original's): publish new killmails
    std::string redis_url;                        ///< REDIS_URL (the original's): redis://[:password@]host[:port][/db]
    std::string log_level = "info";               ///< LOG_LEVEL: debug, info, warn, error
    double progress_every_seconds = 10;           ///< KILLREPORT_PROGRESS_EVERY: plain progress lines' period
    std::string log_format = "text";              ///< LOG_FORMAT: text, json (one object per line)
    std::string metrics_addr;                     ///< KILLREPORT_METRICS_ADDR: where `run` and `worker:*` serve
                                                  ///< /metrics (PORT = 127.0.0.1:PORT, HOST:PORT); "" = off
    bool metrics_addr_given = false;              ///< KILLREPORT_METRICS_ADDR set (even empty: off) or
                                                  ///< --metrics-addr given; else each long-running command's
                                                  ///< default (app: DefaultMetricsAddrs)

    /// Where each value came from, by environment-variable name.
    std::map<std::string, Source> sources;

    bool UsesPostgres() const;
    bool UsesRabbitMq() const { return rabbitmq_url.has_value(); }
};

/// Flags given on the command line (empty = not given).
struct Overrides {
    std::map<std::string, std::string> values;  ///< by environment-variable name
};

/// The default User-Agent: names the project and version and asks the operator for a contact.
std::string DefaultUserAgent();

/// Builds the configuration from the environment and the flags; validates everything.
/// Throws kr::FatalError with one clear line naming the problem.
Config Load(const Overrides& flags, const std::map<std::string, std::string>* env = nullptr);

/// Lines "NAME = value (source)" with passwords in URLs masked. `default_metrics`: the long-running
/// commands' default /metrics addresses ("run 127.0.0.1:9464, …"), shown while KILLREPORT_METRICS_ADDR is unset.
std::vector<std::string> Describe(const Config& c, const std::string& default_metrics = {});

}  // namespace kr::config
