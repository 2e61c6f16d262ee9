#pragma once
// Access to the sample bodies in shared/samples (real ESI / zKillboard responses).
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace kr::store::testing {

inline std::string SamplesDir() {
    if (const char* d = std::getenv("KR_SAMPLES_DIR")) return d;
    return std::string(KR_SOURCE_DIR) + "/../shared/samples";
}

inline std::string ReadSample(const std::string& name) {
    std::ifstream in(SamplesDir() + "/" + name, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read sample " + name);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace kr::store::testing
