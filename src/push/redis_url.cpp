#include "push/redis_url.hpp"

#include "core/errors.hpp"
#include "db/connection.hpp"

namespace kr::push {

namespace {
int ParsePort(const std::string& text, int max, const std::string& url, const char* what) {
    if (text.empty() || text.size() > 5 || text.find_first_not_of("0123456789") != std::string::npos) {
        throw FatalError("REDIS_URL='" + db::MaskUrl(url) + "': " + what + " '" + text + "' is not a number");
    }
    const int v = std::stoi(text);
    if (v > max) throw FatalError("REDIS_URL='" + db::MaskUrl(url) + "': " + what + " " + text + " is out of range");
    return v;
}
}  // namespace

RedisAddress ParseRedisUrl(const std::string& url) {
    constexpr std::string_view kScheme = "redis://";
    if (url.rfind(kScheme, 0) != 0) {
        throw FatalError("REDIS_URL='" + db::MaskUrl(url) + "' is not a redis://host:port URL");
    }
    RedisAddress a;
    std::string rest = url.substr(kScheme.size());
    if (const auto q = rest.find('?'); q != std::string::npos) rest.resize(q);
    std::string path;
    if (const auto slash = rest.find('/'); slash != std::string::npos) {
        path = rest.substr(slash + 1);
        rest.resize(slash);
    }
    if (const auto at = rest.rfind('@'); at != std::string::npos) {
        const std::string info = rest.substr(0, at);
        rest = rest.substr(at + 1);
        const auto colon = info.find(':');
        a.user = info.substr(0, colon);
        if (colon != std::string::npos) a.password = info.substr(colon + 1);
    }
    if (!rest.empty() && rest.front() == '[') {  // [IPv6]:port
        const auto close = rest.find(']');
        if (close == std::string::npos) throw FatalError("REDIS_URL='" + db::MaskUrl(url) + "': unclosed '['");
        a.host = rest.substr(1, close - 1);
        rest = rest.substr(close + 1);
        if (!rest.empty() && rest.front() == ':') a.port = ParsePort(rest.substr(1), 65535, url, "port");
    } else {
        const auto colon = rest.rfind(':');
        if (colon != std::string::npos) {
            a.port = ParsePort(rest.substr(colon + 1), 65535, url, "port");
            rest.resize(colon);
        }
        if (!rest.empty()) a.host = rest;
    }
    if (!path.empty()) a.db = ParsePort(path, 1 << 16, url, "database");
    return a;
}

}  // namespace kr::push
