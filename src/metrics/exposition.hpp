#pragma once
// One scrape's samples, grouped by family, written in the Prometheus text exposition format
// (version 0.0.4): `# HELP` and `# TYPE` once per family, then its samples together, label values
// escaped (\\, \", \n), values as Prometheus reads them (+Inf, -Inf, NaN).
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace kr::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

enum class Type { kCounter, kGauge, kHistogram };

class Exposition {
public:
    /// A sample of family `family`; `suffix` ("_bucket", "_sum", "_count", "_total" …) is appended
    /// to the sample's name. The first call for a family fixes its type and help.
    void Add(const std::string& family, Type type, const std::string& help, const Labels& labels, double value,
             const std::string& suffix = "");
    /// The text of every family, sorted by name; ends with a newline.
    std::string Text() const;

    static std::string FormatValue(double v);
    static std::string EscapeLabelValue(const std::string& v);
    static std::string EscapeHelp(const std::string& v);

private:
    struct Sample {
        std::string suffix;
        Labels labels;
        double value = 0;
    };
    struct Family {
        Type type = Type::kGauge;
        std::string help;
        std::vector<Sample> samples;
    };
    std::map<std::string, Family> families_;
};

/// The content type of the text format.
inline constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace kr::metrics
