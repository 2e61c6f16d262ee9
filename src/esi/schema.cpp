// Schema migrations of the esi module (see db/migrator.hpp).
#include "db/migrator.hpp"

namespace kr::esi {

std::vector<kr::db::Migration> SchemaMigrations() { return {}; }

}  // namespace kr::esi
