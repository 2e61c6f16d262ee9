// Schema migrations of the queue module (see db/migrator.hpp).
#include "db/migrator.hpp"

namespace kr::queue {

std::vector<kr::db::Migration> SchemaMigrations() { return {}; }

}  // namespace kr::queue
