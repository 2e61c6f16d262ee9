#include "db/connection.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>

#include "core/errors.hpp"
#include "db/pg_connection.hpp"
#include "db/sqlite_connection.hpp"

namespace kr::db {

namespace {

std::int64_t ParseInt(const std::string& s) {
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{}) {
        // SQLite may hand back a REAL for an integer expression ("3.0").
        return static_cast<std::int64_t>(std::stod(s));
    }
    (void)p;
    return v;
}

void AppendQuoted(std::string& out, const std::string& s) {
    out += '"';
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    out += '"';
}

}  // namespace

std::string Result::Text(std::size_t row, std::size_t col) const {
    const auto& c = Cell(row, col);
    return c ? *c : std::string{};
}

std::int64_t Result::Int(std::size_t row, std::size_t col) const {
    const auto& c = Cell(row, col);
    return c ? ParseInt(*c) : 0;
}

double Result::Double(std::size_t row, std::size_t col) const {
    const auto& c = Cell(row, col);
    return c ? std::stod(*c) : 0.0;
}

bool Result::Bool(std::size_t row, std::size_t col) const {
    const auto& c = Cell(row, col);
    if (!c || c->empty()) return false;
    return (*c)[0] == 't' || (*c)[0] == '1' || (*c)[0] == 'T';
}

std::optional<std::int64_t> Result::OptInt(std::size_t row, std::size_t col) const {
    const auto& c = Cell(row, col);
    if (!c) return std::nullopt;
    return ParseInt(*c);
}

std::optional<double> Result::OptDouble(std::size_t row, std::size_t col) const {
    const auto& c = Cell(row, col);
    if (!c) return std::nullopt;
    return std::stod(*c);
}

namespace {

bool IsSecretKey(std::string_view key) {
    std::string k(key);
    for (auto& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return k == "password" || k == "pass" || k == "passwd" || k == "pwd" || k == "sslpassword" || k == "secret" ||
           k == "token" || k == "access_token" || k == "api_key" || k == "apikey";
}

/// Masks the values of secret keys in "k=v" pairs separated by `sep` (query strings: '&';
/// libpq keyword DSNs: ' ', where a value may be single-quoted).
std::string MaskPairs(const std::string& s, char sep) {
    std::string out;
    std::size_t i = 0;
    while (i < s.size()) {
        std::size_t eq = s.find('=', i);
        std::size_t end = s.find(sep, i);
        if (eq == std::string::npos || (end != std::string::npos && end < eq)) {
            const std::size_t stop = end == std::string::npos ? s.size() : end + 1;
            out.append(s, i, stop - i);
            i = stop;
            continue;
        }
        std::string_view key(s.data() + i, eq - i);
        while (!key.empty() && key.front() == ' ') key.remove_prefix(1);
        while (!key.empty() && key.back() == ' ') key.remove_suffix(1);
        std::size_t v = eq + 1;
        while (sep == ' ' && v < s.size() && s[v] == ' ') ++v;
        std::size_t vend = 0;
        if (sep == ' ' && v < s.size() && s[v] == '\'') {
            vend = v + 1;
            while (vend < s.size() && s[vend] != '\'') vend += s[vend] == '\\' ? 2 : 1;
            vend = std::min(s.size(), vend + 1);
        } else {
            vend = s.find(sep, v);
            if (vend == std::string::npos) vend = s.size();
        }
        out.append(s, i, v - i);
        out += IsSecretKey(key) ? std::string("****") : s.substr(v, vend - v);
        i = vend;
    }
    return out;
}

}  // namespace

std::string MaskUrl(const std::string& url) {
    const auto scheme = url.find("://");
    if (scheme == std::string::npos) {
        // A libpq keyword/value DSN ("host=h password=secret") or something else with pairs.
        return url.find('=') == std::string::npos ? url : MaskPairs(url, ' ');
    }
    std::string out = url;
    // Query string: every secret parameter (?password=…, &sslpassword=…).
    const auto query = out.find('?', scheme + 3);
    if (query != std::string::npos) out = out.substr(0, query + 1) + MaskPairs(out.substr(query + 1), '&');
    // User info: the password runs from the first ':' to the LAST '@' of the authority (a raw '@'
    // may sit inside the password).
    const auto authority_end = std::min(out.find('?', scheme + 3), out.size());
    const auto at = out.rfind('@', authority_end == out.size() ? std::string::npos : authority_end);
    if (at == std::string::npos || at < scheme + 3) return out;
    const auto colon = out.find(':', scheme + 3);
    if (colon == std::string::npos || colon > at) return out;
    return out.substr(0, colon + 1) + "****" + out.substr(at);
}

std::unique_ptr<Connection> Open(const std::string& url) {
    if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) {
        return std::make_unique<PgConnection>(url);
    }
    if (url.rfind("sqlite:", 0) == 0) {
        return std::make_unique<SqliteConnection>(url);
    }
    throw FatalError("unsupported database URL '" + MaskUrl(url) +
                     "': expected postgresql://… or sqlite:///path/file.db");
}

std::string PgIntArray(const std::vector<std::int64_t>& v) {
    std::string out = "{";
    char buf[24];
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (i) out += ',';
        auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v[i]);
        (void)ec;
        out.append(buf, p);
    }
    out += '}';
    return out;
}

std::string PgOptIntArray(const std::vector<std::optional<std::int64_t>>& v) {
    std::string out = "{";
    char buf[24];
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (i) out += ',';
        if (!v[i]) {
            out += "NULL";
            continue;
        }
        auto [p, ec] = std::to_chars(buf, buf + sizeof buf, *v[i]);
        (void)ec;
        out.append(buf, p);
    }
    out += '}';
    return out;
}

std::string PgTextArray(const std::vector<std::string>& v) {
    std::string out = "{";
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (i) out += ',';
        AppendQuoted(out, v[i]);
    }
    out += '}';
    return out;
}

std::string PgOptTextArray(const std::vector<std::optional<std::string>>& v) {
    std::string out = "{";
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (i) out += ',';
        if (v[i]) {
            AppendQuoted(out, *v[i]);
        } else {
            out += "NULL";
        }
    }
    out += '}';
    return out;
}

std::string PgOptDoubleArray(const std::vector<std::optional<double>>& v) {
    std::string out = "{";
    char buf[64];
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (i) out += ',';
        if (!v[i]) {
            out += "NULL";
            continue;
        }
        int n = std::snprintf(buf, sizeof buf, "%.17g", *v[i]);
        out.append(buf, static_cast<std::size_t>(n));
    }
    out += '}';
    return out;
}

std::string PgBoolArray(const std::vector<bool>& v) {
    std::string out = "{";
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (i) out += ',';
        out += v[i] ? "t" : "f";
    }
    out += '}';
    return out;
}

}  // namespace kr::db
