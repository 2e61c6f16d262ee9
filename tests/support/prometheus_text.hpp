#pragma once
// A reader of the Prometheus text exposition format (0.0.4) as strict as Prometheus' own parser
// (expfmt) and `promtool check metrics`' lint: names and label names by the grammar, escapes in
// label values, HELP/TYPE at most once and before the family's samples, a family's samples together,
// no duplicate series, histograms with cumulative `le` buckets ending at +Inf = _count, counters
// named `…_total` and never negative. Throws std::runtime_error naming the line on any violation.
#include <map>
#include <string>
#include <vector>

namespace kr::test {

struct PromSample {
    std::string name;  ///< the sample's name (with _bucket/_sum/_count)
    std::map<std::string, std::string> labels;
    double value = 0;
};

struct PromFamily {
    std::string type = "untyped";
    std::string help;
    std::vector<PromSample> samples;
    /// The value of the sample named `name` whose labels include `match` (throws if none).
    double Value(const std::string& name, const std::map<std::string, std::string>& match = {}) const;
    /// Sum over the samples named `name` whose labels include `match`.
    double Sum(const std::string& name, const std::map<std::string, std::string>& match = {}) const;
};

std::map<std::string, PromFamily> ParsePrometheusText(const std::string& text);

}  // namespace kr::test
