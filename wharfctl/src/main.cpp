// wharfctl: the operator CLI. Finds the subcommand in the table, runs it as a coroutine on one
// io_context, and turns what it throws into one line on stderr and a documented exit code.
#include "commands.hpp"

#include "wharf/core/log.hpp"
#include "wharf/pg/migrate.hpp"
#include "wharf/pg/pool.hpp"
#include "wharf/redis/reply.hpp"

#include <csignal>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>
#include <pqxx/except>

#include <array>
#include <iostream>

namespace {

using namespace wharfctl;

// The subcommands. A new group adds its run_* function to commands.hpp and one line here.
constexpr std::array commands{
    command{"migrate", "apply the database migrations", run_migrate},
    command{"enqueue", "add a job to a queue", run_enqueue},
    command{"status", "show a job's state (a pipeline's: with its steps)", run_status},
    command{"pipeline", "submit a pipeline: download -> transcode -> publish (pipeline submit)", run_pipeline},
    command{"cancel", "cancel a job or a whole pipeline", run_cancel},
    command{"jobs", "delete finished jobs with their stored objects (jobs delete)", run_jobs},
    command{"queues", "depth, in-flight, delayed and dead counts of every queue", run_queues},
    command{"dead", "list, retry or purge a queue's dead letters", run_dead},
    command{"storage", "storage usage (storage stats, analytics), move-to-permanent (storage promote), migration between providers (storage migrate), orphaned uploads (storage orphans)",
            run_storage},
    command{"presign", "a presigned URL for a stored object", run_presign},
    command{"schedules", "list, inspect, pause, resume, trigger or apply periodic schedules", run_schedules},
    command{"cleanup", "run a maintenance task now (stuck-jobs, job-retention, stale-multipart, temp-objects)", run_cleanup},
    command{"backup", "database backups: list, run, restore, verify, drill (tested restore), prune", run_backup},
    command{"apikeys", "create, list or revoke the HTTP API's keys", run_apikeys},
    command{"health", "ask a process's admin endpoint whether it is ready (for healthchecks)", run_health},
    command{"drain", "ask a process to stop gracefully, as SIGTERM does (for preStop hooks)", run_drain},
};

void print_usage(std::ostream& out) {
    out << "usage: wharfctl <command> [arguments] [--help]\n\ncommands:\n";
    for (const auto& c : commands) {
        std::string name{c.name};
        name.resize(10, ' ');
        out << "  " << name << c.summary << "\n";
    }
    out << "\nconnections: WHARF_REDIS_URL (default redis://127.0.0.1:6379/0), WHARF_DATABASE_URL,\n"
           "  or --redis-url / --database-url / --config FILE on each command.\n"
           "\nexit codes:\n"
           "  0  success\n"
           "  1  the operation failed (e.g. no job with that id)\n"
           "  2  usage or configuration error (bad flag, URL, value or payload)\n"
           "  3  Redis or PostgreSQL unreachable\n"
           "  4  (status --wait/--watch) the job was cancelled\n"
           "  5  (status --wait/--watch) the job was not over when --wait-timeout passed\n";
}

// Boost.System appends the source location of an error_code to what() ("... [system:111 at
// /usr/include/boost/asio/...]"); an operator needs the reason, not Asio's file names.
std::string without_location(std::string text) {
    for (auto at = text.find(" [system:"); at != std::string::npos; at = text.find(" [system:")) {
        const auto end = text.find(']', at);
        text.erase(at, end == std::string::npos ? std::string::npos : end - at + 1);
    }
    return text;
}

// One line for stderr and the exit code, for whatever a command threw.
std::pair<int, std::string> classify(std::exception_ptr ep) {
    try {
        std::rethrow_exception(ep);
    } catch (const usage_error& e) {
        return {exit_usage, e.what()};
    } catch (const wharf::config_error& e) {
        return {exit_usage, e.what()};
    } catch (const failure& e) {
        return {exit_failed, e.what()};
    } catch (const wharf::redis::error& e) {
        if (e.which() == wharf::redis::error::kind::protocol)
            return {exit_failed, "Redis at " + last_redis_display() + ": " + without_location(e.what())};
        return {exit_unreachable, "cannot reach Redis at " + last_redis_display() + ": " + without_location(e.what())};
    } catch (const wharf::pg::unavailable& e) {
        return {exit_unreachable, "cannot reach PostgreSQL at " + last_database_display() + ": " + e.what()};
    } catch (const pqxx::broken_connection& e) {
        return {exit_unreachable, "cannot reach PostgreSQL at " + last_database_display() + ": " + e.what()};
    } catch (const wharf::pg::migration_error& e) {
        return {exit_failed, e.what()};
    } catch (const std::exception& e) {
        return {exit_failed, e.what()};
    }
}

std::string one_line(std::string text) {
    for (auto& c : text)
        if (c == '\n' || c == '\r') c = ' ';
    while (!text.empty() && text.back() == ' ') text.pop_back();
    return text;
}

}  // namespace

int main(int argc, char** argv) {
    // A child that stops reading its stdin (pg_restore ending early in `backup restore`) must be
    // an EPIPE for the writer, not the end of wharfctl. Children get SIG_DFL back (child.cpp).
    std::signal(SIGPIPE, SIG_IGN);
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty()) {
        print_usage(std::cerr);
        return exit_usage;
    }
    if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
        print_usage(std::cout);
        return exit_ok;
    }
    const command* chosen = nullptr;
    for (const auto& c : commands)
        if (c.name == args[0]) chosen = &c;
    if (!chosen) {
        std::cerr << "wharfctl: unknown command '" << args[0] << "' (see wharfctl --help)\n";
        return exit_usage;
    }
    const std::string name{chosen->name};
    args.erase(args.begin());

    try {
        // Quiet by default: a command's own output is on stdout and its error is one line.
        wharf::init_logging(std::getenv("WHARF_LOG_LEVEL") ? std::getenv("WHARF_LOG_LEVEL") : "off");
    } catch (const std::exception& e) {
        std::cerr << "wharfctl: " << one_line(e.what()) << "\n";
        return exit_usage;
    }

    boost::asio::io_context io;
    int code = exit_failed;
    std::string message;
    boost::asio::co_spawn(io, chosen->run(invocation{std::move(args), io.get_executor()}),
                          [&](std::exception_ptr ep, int result) {
                              if (ep) {
                                  std::tie(code, message) = classify(ep);
                              } else {
                                  code = result;
                              }
                              // A connection may still hold timers (reconnect, idle); the
                              // command is over, so is the process.
                              io.stop();
                          });
    io.run();
    if (!message.empty()) std::cerr << "wharfctl " << name << ": " << one_line(message) << "\n";
    return code;
}
