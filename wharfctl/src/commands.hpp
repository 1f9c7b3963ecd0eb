// The subcommand table's types, exit codes, and helpers shared by the command groups.
#pragma once

#include "wharf/core/config.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::redis {
class connection;
}
namespace wharf::pg {
class pool;
}

namespace wharfctl {

// Exit codes a script can rely on (also listed by `wharfctl --help`).
enum exit_code : int {
    exit_ok = 0,
    exit_failed = 1,       // the operation failed (e.g. no such job)
    exit_usage = 2,        // bad flag, value, URL or payload
    exit_unreachable = 3,  // Redis or PostgreSQL could not be reached
};

// A bad command line: one line on stderr, exit 2.
class usage_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The operation ran and failed (not found, refused): one line on stderr, exit 1.
class failure : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// What a command gets: its arguments (after the command word) and the executor of main's
// io_context, where it runs as a coroutine.
struct invocation {
    std::vector<std::string> args;
    boost::asio::any_io_executor executor;
};

using command_fn = boost::asio::awaitable<int> (*)(invocation);

struct command {
    std::string_view name;
    std::string_view summary;
    command_fn run;
};

// --- Command groups: one file each, one line each in main.cpp's table. ---
boost::asio::awaitable<int> run_migrate(invocation);  // migrate_command.cpp
boost::asio::awaitable<int> run_enqueue(invocation);  // queue_commands.cpp
boost::asio::awaitable<int> run_queues(invocation);   // queue_commands.cpp
boost::asio::awaitable<int> run_dead(invocation);     // queue_commands.cpp
boost::asio::awaitable<int> run_status(invocation);   // job_commands.cpp
boost::asio::awaitable<int> run_pipeline(invocation); // pipeline_commands.cpp (pipeline submit)
boost::asio::awaitable<int> run_cancel(invocation);   // pipeline_commands.cpp
boost::asio::awaitable<int> run_storage(invocation);  // storage_commands.cpp
boost::asio::awaitable<int> run_presign(invocation);  // storage_commands.cpp
boost::asio::awaitable<int> run_storage_orphans(invocation);  // storage_orphans.cpp (storage orphans)
boost::asio::awaitable<int> run_storage_promote(invocation);  // storage_promote.cpp (storage promote)
boost::asio::awaitable<int> run_storage_migrate(invocation);  // storage_migrate.cpp (storage migrate)
boost::asio::awaitable<int> run_storage_compress(invocation);  // storage_compress.cpp (storage compress)
boost::asio::awaitable<int> run_storage_get(invocation);       // storage_get.cpp (storage get)
boost::asio::awaitable<int> run_storage_lifecycle(invocation);  // storage_lifecycle.cpp (storage lifecycle plan|apply|backstop)
boost::asio::awaitable<int> run_jobs(invocation);  // jobs_delete_command.cpp (jobs delete)
boost::asio::awaitable<int> run_schedules(invocation);  // schedule_commands.cpp
boost::asio::awaitable<int> run_cleanup(invocation);    // cleanup_commands.cpp
boost::asio::awaitable<int> run_health(invocation);     // health_command.cpp
boost::asio::awaitable<int> run_drain(invocation);      // health_command.cpp
boost::asio::awaitable<int> run_apikeys(invocation);    // apikeys_command.cpp
boost::asio::awaitable<int> run_backup(invocation);     // backup_commands.cpp

// --- Shared helpers (common.cpp). ---
inline constexpr wharf::option_spec redis_url_option{"redis_url", "Redis URL (redis://, rediss://, unix://)",
                                                     false, "redis://127.0.0.1:6379/0"};
inline constexpr wharf::option_spec database_url_option{"database_url", "PostgreSQL URL or libpq key=value string"};
inline constexpr wharf::option_spec json_option{"json", "print JSON instead of text", true};
inline constexpr wharf::option_spec help_option{"help", "show this help", true};

// Loads the settings of one command: only the connection settings are taken from the environment
// (WHARF_REDIS_URL, WHARF_DATABASE_URL, ...), so a stray WHARF_ID or WHARF_YES cannot change
// what a command does. Throws wharf::config_error.
wharf::config load_config(const std::vector<std::string>& args, std::span<const wharf::option_spec> specs);

// load_config plus WHARF_STORAGE_PROVIDERS, for the storage commands (storage_commands.cpp): the
// provider list is a connection setting too.
wharf::config load_storage_config(const std::vector<std::string>& args, std::span<const wharf::option_spec> specs);

// Prints the help of a command: its usage line, description and flags.
void print_help(std::string_view usage, std::string_view description, std::span<const wharf::option_spec> specs);

// Exactly `n` positional arguments, or a usage_error naming `usage`.
void expect_positionals(const wharf::config& cfg, std::size_t n, std::string_view usage);

// A connection to the configured Redis (a bad URL is a usage_error). Records the URL, with any
// password masked, for the error message should the server be unreachable.
std::unique_ptr<wharf::redis::connection> open_redis(boost::asio::any_io_executor ex, const wharf::config& cfg);
// The configured database URL, checked with libpq's parser (missing or malformed: usage_error)
// and recorded, with any password masked, for error messages.
std::string database_url(const wharf::config& cfg);
// A pool on the configured database (missing or malformed URL: usage_error).
std::unique_ptr<wharf::pg::pool> open_database(boost::asio::any_io_executor ex, const wharf::config& cfg);

// The server that a connection error refers to, for main's one-line message.
const std::string& last_redis_display();
const std::string& last_database_display();

}  // namespace wharfctl
