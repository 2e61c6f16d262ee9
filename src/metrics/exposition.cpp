#include "metrics/exposition.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace kr::metrics {

namespace {

const char* TypeName(Type t) {
    switch (t) {
        case Type::kCounter: return "counter";
        case Type::kGauge: return "gauge";
        case Type::kHistogram: return "histogram";
    }
    return "untyped";
}

}  // namespace

void Exposition::Add(const std::string& family, Type type, const std::string& help, const Labels& labels, double value,
                     const std::string& suffix) {
    auto [it, inserted] = families_.try_emplace(family);
    if (inserted) {
        it->second.type = type;
        it->second.help = help;
    }
    it->second.samples.push_back({suffix, labels, value});
}

std::string Exposition::FormatValue(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    char buf[64];
    if (v == std::floor(v) && std::fabs(v) < 1e15) {
        std::snprintf(buf, sizeof buf, "%.0f", v);
    } else {
        // The shortest form that reads back as the same double ("0.005", not "0.0050000000000000001").
        for (int precision = 15; precision <= 17; ++precision) {
            std::snprintf(buf, sizeof buf, "%.*g", precision, v);
            if (std::strtod(buf, nullptr) == v) break;
        }
    }
    return buf;
}

std::string Exposition::EscapeLabelValue(const std::string& v) {
    std::string out;
    out.reserve(v.size());
    for (char c : v) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '"') {
            out += "\\\"";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

std::string Exposition::EscapeHelp(const std::string& v) {
    std::string out;
    out.reserve(v.size());
    for (char c : v) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

std::string Exposition::Text() const {
    std::string out;
    for (const auto& [name, f] : families_) {
        out += "# HELP " + name + ' ' + EscapeHelp(f.help) + '\n';
        out += "# TYPE " + name + ' ' + TypeName(f.type) + '\n';
        for (const auto& s : f.samples) {
            out += name + s.suffix;
            if (!s.labels.empty()) {
                out += '{';
                const char* sep = "";
                for (const auto& [k, v] : s.labels) {
                    out += sep + k + "=\"" + EscapeLabelValue(v) + '"';
                    sep = ",";
                }
                out += '}';
            }
            out += ' ' + FormatValue(s.value) + '\n';
        }
    }
    return out;
}

}  // namespace kr::metrics
