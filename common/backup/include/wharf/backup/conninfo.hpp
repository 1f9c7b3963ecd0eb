// PostgreSQL connection strings for child processes (pg_dump, pg_restore): libpq parses the URL
// or key=value string (PQconninfoParse), and the password leaves it -- it reaches the child as
// PGPASSWORD in its environment, never in its argv, where `ps` shows it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::backup {

struct child_conninfo {
    std::string conninfo;                 // key=value, without the password
    std::optional<std::string> password;
    std::string dbname;                   // as given (may be empty: libpq's default)

    // {"PGPASSWORD=..."} when there is a password; the entries of process::spawn_options::env.
    std::vector<std::string> env() const;
};

// Throws std::invalid_argument with libpq's reason (which never repeats the password).
// `dbname`, when given, replaces the database (a restore drill's scratch database).
child_conninfo split_conninfo(std::string_view url, std::optional<std::string> dbname = {});

}  // namespace wharf::backup
