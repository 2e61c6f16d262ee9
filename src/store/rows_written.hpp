#pragma once
// killreport_rows_written_total{table}: rows a committed transaction created or changed, counted
// after the commit (a rolled-back write counts nothing). Lock-free after a table's first count on
// a thread.
#include <cstddef>
#include <string>

namespace kr::store {

inline constexpr const char* kRowsWrittenMetric = "killreport_rows_written_total";

void CountRowsWritten(const std::string& table, std::size_t rows);

}  // namespace kr::store
