#include "http_util.hpp"

#include <httplib.h>

#include <chrono>
#include <ctime>

#include <nlohmann/json.hpp>

#include "universe.hpp"

namespace fakeesi {
namespace {

std::uint64_t Fnv1a(std::string_view s, std::uint64_t h) {
    for (unsigned char c : s) {
        h ^= c;
        h *= 0x100000001b3ULL;
    }
    return h;
}

}  // namespace

std::int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string HttpDate(std::int64_t epoch_s) {
    thread_local std::int64_t cached_s = -1;
    thread_local std::string cached;
    if (epoch_s == cached_s) return cached;
    std::time_t t = static_cast<std::time_t>(epoch_s);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached_s = epoch_s;
    cached = buf;
    return cached;
}

std::string IsoDate(std::int64_t epoch_s) {
    std::time_t t = static_cast<std::time_t>(epoch_s);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string ETagOf(const std::string& body) {
    static const char* hx = "0123456789abcdef";
    std::uint64_t a = Fnv1a(body, 0xcbf29ce484222325ULL);
    std::uint64_t b = Mix64(Fnv1a(body, 0x84222325cbf29ce4ULL) ^ body.size());
    std::string s = "\"";
    for (std::uint64_t v : {a, b})
        for (int i = 15; i >= 0; --i) s += hx[(v >> (i * 4)) & 15];
    s += "\"";
    return s;
}

bool EtagMatches(const std::string& header, const std::string& etag) {
    std::size_t pos = 0;
    while (pos < header.size()) {
        std::size_t comma = header.find(',', pos);
        std::string tok = header.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        pos = comma == std::string::npos ? header.size() : comma + 1;
        auto b = tok.find_first_not_of(" \t");
        auto e = tok.find_last_not_of(" \t");
        if (b == std::string::npos) continue;
        tok = tok.substr(b, e - b + 1);
        if (tok == "*") return true;
        if (tok.rfind("W/", 0) == 0) tok = tok.substr(2);
        if (tok == etag) return true;
        if (tok.size() >= 2 && tok.front() != '"' && "\"" + tok + "\"" == etag) return true;
    }
    return false;
}

bool ParseId(std::string_view s, std::int64_t& out) {
    if (s.empty() || s.size() > 18) return false;
    std::int64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + (c - '0');
    }
    out = v;
    return true;
}

std::vector<std::string_view> Split(std::string_view p) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < p.size()) {
        if (p[i] == '/') {
            ++i;
            continue;
        }
        std::size_t j = p.find('/', i);
        if (j == std::string_view::npos) j = p.size();
        out.push_back(p.substr(i, j - i));
        i = j;
    }
    return out;
}

void SetError(httplib::Response& res, int status, const std::string& msg) {
    res.status = status;
    res.set_content(nlohmann::json{{"error", msg}}.dump(), kJson);
}

}  // namespace fakeesi
