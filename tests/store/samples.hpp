#pragma once
// Access to the sample bodies (real ESI / zKillboard responses): tests/fixtures/samples, a copy
// of shared/samples kept in the repository so that a bare checkout tests itself.
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace kr::store::testing {

inline std::string SamplesDir() {
    if (const char* d = std::getenv("KR_SAMPLES_DIR")) return d;
    return std::string(KR_SOURCE_DIR) + "/tests/fixtures/samples";
}

inline std::string ReadSample(const std::string& name) {
    std::ifstream in(SamplesDir() + "/" + name, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read sample " + name);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace kr::store::testing
