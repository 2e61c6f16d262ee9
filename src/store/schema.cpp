// Schema migrations of the store module (see db/migrator.hpp).
#include "db/migrator.hpp"

namespace kr::store {

std::vector<kr::db::Migration> SchemaMigrations() { return {}; }

}  // namespace kr::store
