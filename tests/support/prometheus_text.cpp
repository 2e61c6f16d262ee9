#include "support/prometheus_text.hpp"

#include <algorithm>
#include <cmath>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>

namespace kr::test {

namespace {

const std::regex kMetricName("[a-zA-Z_:][a-zA-Z0-9_:]*");
const std::regex kLabelName("[a-zA-Z_][a-zA-Z0-9_]*");

[[noreturn]] void Fail(int line, const std::string& what) {
    throw std::runtime_error("line " + std::to_string(line) + ": " + what);
}

double ParseValue(const std::string& s, int line) {
    if (s == "+Inf" || s == "Inf") return INFINITY;
    if (s == "-Inf") return -INFINITY;
    if (s == "NaN") return NAN;
    std::size_t used = 0;
    double v = 0;
    try {
        v = std::stod(s, &used);
    } catch (const std::exception&) {
        Fail(line, "not a number: '" + s + "'");
    }
    if (used != s.size()) Fail(line, "not a number: '" + s + "'");
    return v;
}

bool Matches(const PromSample& s, const std::string& name, const std::map<std::string, std::string>& match) {
    if (s.name != name) return false;
    for (const auto& [k, v] : match) {
        auto it = s.labels.find(k);
        if (it == s.labels.end() || it->second != v) return false;
    }
    return true;
}

/// The family a sample belongs to: itself, or a histogram's base name.
std::string FamilyOf(const std::string& name, const std::map<std::string, PromFamily>& families) {
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        const std::string sfx = suffix;
        if (name.size() > sfx.size() && name.compare(name.size() - sfx.size(), sfx.size(), sfx) == 0) {
            const std::string base = name.substr(0, name.size() - sfx.size());
            auto it = families.find(base);
            if (it != families.end() && it->second.type == "histogram") return base;
        }
    }
    return name;
}

}  // namespace

double PromFamily::Value(const std::string& name, const std::map<std::string, std::string>& match) const {
    for (const auto& s : samples) {
        if (Matches(s, name, match)) return s.value;
    }
    throw std::runtime_error("no sample " + name);
}

double PromFamily::Sum(const std::string& name, const std::map<std::string, std::string>& match) const {
    double sum = 0;
    for (const auto& s : samples) {
        if (Matches(s, name, match)) sum += s.value;
    }
    return sum;
}

std::map<std::string, PromFamily> ParsePrometheusText(const std::string& text) {
    if (!text.empty() && text.back() != '\n') throw std::runtime_error("the text does not end with a newline");
    std::map<std::string, PromFamily> families;
    std::set<std::string> helped, typed, finished;
    std::set<std::string> series;
    std::string current;  // the family whose samples are being read
    std::istringstream in(text);
    std::string l;
    int n = 0;
    while (std::getline(in, l)) {
        ++n;
        if (l.empty()) continue;
        if (l[0] == '#') {
            std::istringstream c(l.substr(1));
            std::string kw, name;
            c >> kw >> name;
            if (kw != "HELP" && kw != "TYPE") continue;  // a plain comment
            if (!std::regex_match(name, kMetricName)) Fail(n, "bad metric name '" + name + "'");
            std::string rest;
            std::getline(c >> std::ws, rest);
            auto& f = families[name];
            if (finished.count(name) || (current == name && !f.samples.empty()))
                Fail(n, kw + " for " + name + " after its samples");
            if (kw == "HELP") {
                if (!helped.insert(name).second) Fail(n, "second HELP for " + name);
                f.help = rest;
            } else {
                if (!typed.insert(name).second) Fail(n, "second TYPE for " + name);
                if (rest != "counter" && rest != "gauge" && rest != "histogram" && rest != "summary" &&
                    rest != "untyped")
                    Fail(n, "unknown type '" + rest + "'");
                f.type = rest;
            }
            continue;
        }
        // name{label="value",…} value [timestamp]
        std::size_t i = 0;
        while (i < l.size() && l[i] != '{' && l[i] != ' ') ++i;
        PromSample s;
        s.name = l.substr(0, i);
        if (!std::regex_match(s.name, kMetricName)) Fail(n, "bad metric name '" + s.name + "'");
        if (i < l.size() && l[i] == '{') {
            ++i;
            while (i < l.size() && l[i] != '}') {
                std::size_t eq = l.find('=', i);
                if (eq == std::string::npos) Fail(n, "label without '='");
                std::string key = l.substr(i, eq - i);
                if (!std::regex_match(key, kLabelName) || key.rfind("__", 0) == 0)
                    Fail(n, "bad label name '" + key + "'");
                i = eq + 1;
                if (i >= l.size() || l[i] != '"') Fail(n, "label value not quoted");
                ++i;
                std::string value;
                for (;;) {
                    if (i >= l.size()) Fail(n, "unterminated label value");
                    char ch = l[i++];
                    if (ch == '"') break;
                    if (ch == '\\') {
                        if (i >= l.size()) Fail(n, "dangling escape");
                        char e = l[i++];
                        if (e == 'n') {
                            value += '\n';
                        } else if (e == '\\' || e == '"') {
                            value += e;
                        } else {
                            Fail(n, std::string("bad escape \\") + e);
                        }
                    } else {
                        value += ch;
                    }
                }
                if (!s.labels.emplace(key, value).second) Fail(n, "label " + key + " twice");
                if (i < l.size() && l[i] == ',') ++i;
            }
            if (i >= l.size()) Fail(n, "unterminated label set");
            ++i;  // '}'
        }
        if (i >= l.size() || l[i] != ' ') Fail(n, "no value");
        std::istringstream vs(l.substr(i));
        std::string value, ts, extra;
        vs >> value >> ts >> extra;
        if (value.empty() || !extra.empty()) Fail(n, "bad value/timestamp");
        s.value = ParseValue(value, n);
        const std::string family = FamilyOf(s.name, families);
        if (family != current) {
            if (!current.empty()) finished.insert(current);
            if (finished.count(family)) Fail(n, "samples of " + family + " are not together");
            current = family;
        }
        std::string key = s.name;
        for (const auto& [k, v] : s.labels) key += '\n' + k + '=' + v;
        if (!series.insert(key).second) Fail(n, "duplicate series " + s.name);
        auto& f = families[family];
        if (f.type == "counter") {
            if (s.value < 0 || std::isnan(s.value)) Fail(n, "negative counter " + s.name);
            if (s.name.size() < 6 || s.name.compare(s.name.size() - 6, 6, "_total") != 0)
                Fail(n, "counter " + s.name + " should end in _total");
        }
        if (f.type == "histogram") {
            if (s.name == family + "_bucket") {
                if (!s.labels.count("le")) Fail(n, "bucket without le");
                ParseValue(s.labels.at("le"), n);
            } else if (s.name != family + "_sum" && s.name != family + "_count") {
                Fail(n, "histogram sample " + s.name);
            }
        }
        f.samples.push_back(std::move(s));
    }
    // Histograms: per series (labels without le) cumulative buckets ending at +Inf == _count.
    for (const auto& [name, f] : families) {
        if (f.type != "histogram") continue;
        std::map<std::string, std::vector<std::pair<double, double>>> buckets;
        std::map<std::string, double> counts;
        for (const auto& s : f.samples) {
            std::string key;
            for (const auto& [k, v] : s.labels)
                if (k != "le") key += k + '=' + v + '\n';
            if (s.name == name + "_bucket") buckets[key].emplace_back(ParseValue(s.labels.at("le"), 0), s.value);
            if (s.name == name + "_count") counts[key] = s.value;
        }
        for (auto& [key, b] : buckets) {
            std::sort(b.begin(), b.end());
            for (std::size_t i = 1; i < b.size(); ++i) {
                if (b[i].second < b[i - 1].second) throw std::runtime_error(name + ": buckets not cumulative");
            }
            if (b.empty() || !std::isinf(b.back().first)) throw std::runtime_error(name + ": no +Inf bucket");
            if (!counts.count(key) || counts[key] != b.back().second)
                throw std::runtime_error(name + ": _count differs from the +Inf bucket");
        }
    }
    return families;
}

}  // namespace kr::test
