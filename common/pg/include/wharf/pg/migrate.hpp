// The migration runner: applies migrations/NNNN_name.sql files in order, once, safely when many
// processes start at once.
//
// Each pending file runs in its own transaction together with its row in `schema_migrations`
// (version, name, applied_at, checksum), so a file is either wholly applied and recorded or not
// at all. The whole run holds a session-level pg_advisory_lock, so concurrent migrators queue up
// and later ones find the work done. A file whose content changed after it was applied is refused:
// add a new migration instead. (A file must therefore not use statements that cannot run inside a
// transaction, such as CREATE INDEX CONCURRENTLY.)
#pragma once

#include "wharf/core/config.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace wharf::pg {

// A bad migrations folder, a changed applied migration, or a migration that failed to apply.
// (PostgreSQL being unreachable throws pg::unavailable instead.)
class migration_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct migration_file {
    std::int32_t version = 0;   // NNNN
    std::string name;           // "0001_jobs.sql"
    std::filesystem::path path;
    std::string checksum;       // hex SHA-256 of the file's bytes
    std::string sql;
};

// The NNNN_name.sql files of dir in version order. Throws migration_error when the folder is
// missing, a *.sql file is not named NNNN_name.sql, or two files share a version.
std::vector<migration_file> read_migrations(const std::filesystem::path& dir);

struct migrate_options {
    // How long to wait for the advisory lock (another migrator) and for any table lock a
    // migration needs, before giving up with an error rather than hanging a deploy.
    std::chrono::milliseconds lock_timeout{120'000};
    // Connect attempts while the server is starting or unreachable (full-jitter backoff).
    std::uint32_t connect_attempts = 8;
    std::chrono::seconds connect_timeout{5};
};

struct migrate_report {
    std::vector<std::string> applied;          // names applied by this call, in order
    std::vector<std::string> already_applied;  // names found applied
};

// Blocking: call it from main or a pool thread, never from an I/O thread.
migrate_report migrate(const std::string& url, const std::filesystem::path& dir, migrate_options options = {});

// The migrations folder: the `migrations_dir` setting (--migrations-dir, WHARF_MIGRATIONS_DIR)
// when given, else the source tree's migrations/ compiled in as WHARF_MIGRATIONS_DIR.
inline constexpr option_spec migrations_dir_option{
    "migrations_dir", "folder of NNNN_name.sql migrations (default: the source tree's migrations/)"};
std::filesystem::path default_migrations_dir();
std::filesystem::path migrations_dir(const config& cfg);

}  // namespace wharf::pg
