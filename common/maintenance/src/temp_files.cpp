// temp_files: the entries of a worker's scratch directory (the per-job files and folders that
// storing.hpp's scratch_path names <kind>-<queue>-<id><suffix>) that nothing has written for
// older_than (default 24 h) and that no running or retry-waiting job owns are removed. A job's
// own scratch is removed when it ends, so what this finds is what a killed worker left (or a
// partial download whose job never came back). Each entry's age is its newest modification time,
// files within it included, so a long job still writing is young; an entry too large to age
// cheaply is kept. Per host: every worker sweeps its own scratch directory (cleanup.hpp), and a
// `cleanup` job with this task sweeps the one of the worker that runs it.
#include "tasks_impl.hpp"

#include "wharf/asio/offload.hpp"
#include "wharf/core/scratch.hpp"

#include <boost/asio/thread_pool.hpp>
#include <fmt/format.h>
#include <pqxx/pqxx>

#include <sys/stat.h>

#include <cmath>
#include <filesystem>
#include <set>
#include <system_error>

namespace wharf::maintenance::detail {
namespace {

namespace fs = std::filesystem;
using clock = std::chrono::system_clock;

// An entry with more files than this is not aged (kept): the sweep stays bounded on a hostile
// or broken tree.
constexpr std::size_t max_files_per_entry = 100'000;

struct candidate {
    fs::path path;
    std::string name;
    bool folder = false;
    std::uint64_t files = 0, bytes = 0;
};

struct scan_result {
    std::vector<candidate> old;
    std::uint64_t scanned = 0, recent = 0, too_large = 0;
    std::vector<std::string> errors;
};

// The modification time of a path itself (a symlink's own, never its target's).
std::optional<clock::time_point> own_mtime(const fs::path& p, std::uint64_t* size) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) return std::nullopt;
    if (size && S_ISREG(st.st_mode)) *size += static_cast<std::uint64_t>(st.st_size);
    return clock::time_point{std::chrono::seconds{st.st_mtim.tv_sec} + std::chrono::nanoseconds{st.st_mtim.tv_nsec}};
}

scan_result scan(const fs::path& dir, std::chrono::seconds older_than) {
    scan_result r;
    const auto cutoff = clock::now() - older_than;
    std::error_code ec;
    fs::directory_iterator it(dir, ec);
    if (ec) {
        if (ec != std::errc::no_such_file_or_directory)
            throw std::runtime_error(fmt::format("cannot read the scratch directory {}: {}", dir.string(), ec.message()));
        return r;  // nothing was ever written there
    }
    for (; it != fs::directory_iterator(); it.increment(ec)) {
        if (ec) break;
        ++r.scanned;
        candidate c{it->path(), it->path().filename().string()};
        auto newest = own_mtime(c.path, &c.bytes);
        if (!newest) continue;  // gone meanwhile
        c.folder = it->is_directory(ec) && !it->is_symlink(ec);
        bool large = false;
        if (c.folder) {
            std::error_code walk;
            for (fs::recursive_directory_iterator f(c.path, fs::directory_options::skip_permission_denied, walk), end;
                 !walk && f != end; f.increment(walk)) {
                if (++c.files > max_files_per_entry) {
                    large = true;
                    break;
                }
                if (const auto t = own_mtime(f->path(), &c.bytes); t && *t > *newest) newest = t;
            }
        } else {
            c.files = 1;
        }
        if (large) {
            ++r.too_large;
        } else if (*newest > cutoff) {
            ++r.recent;
        } else {
            r.old.push_back(std::move(c));
        }
    }
    return r;
}

// Whether a name is one of a live job's: "<kind>-<owner><suffix>" where the owner is a live
// job's "<queue>-<id>" and the suffix is empty or starts with '+' or '.'. Kinds may hold '-'
// ("publish-read"), so every '-' is tried as the kind's end. A name another job's id extends
// ("job-1" and "job-10") is not confused: '0' cannot start a suffix.
bool owned(const std::string& name, const std::set<std::string, std::less<>>& live) {
    for (std::size_t dash = name.find('-'); dash != std::string::npos; dash = name.find('-', dash + 1)) {
        const std::string_view rest = std::string_view{name}.substr(dash + 1);
        for (std::size_t end = 1; end <= rest.size(); ++end) {
            if (end < rest.size() && rest[end] != '+' && rest[end] != '.') continue;
            if (live.contains(rest.substr(0, end))) return true;
        }
    }
    return false;
}

}  // namespace

boost::asio::awaitable<nlohmann::json> temp_files(pg::pool& db, const task_options& o) {
    if (!o.scratch_dir || o.scratch_dir->empty())
        throw task_error("temp_files needs the scratch directory (--scratch-dir; a worker sweeps its own)");
    const fs::path dir = *o.scratch_dir;
    const auto older_than = o.older_than.value_or(std::chrono::hours{24});

    boost::asio::thread_pool files(1);  // directory walks and removals, off the caller's threads
    auto scanning = offload(files.get_executor(), [dir, older_than] { return scan(dir, older_than); });
    scan_result found = co_await std::move(scanning);

    // The jobs that may still use their scratch: running (a take-over continues a partial
    // download) or waiting for a retry.
    auto read_live = [](pqxx::connection& c) {
        pqxx::read_transaction tx(c);
        std::set<std::string, std::less<>> live;
        for (const auto& row : tx.exec("SELECT queue, id FROM jobs WHERE status IN ('running', 'waiting')"))
            live.insert(scratch_owner(row[0].as<std::string>(), row[1].as<std::string>()));
        return live;
    };
    std::set<std::string, std::less<>> live;
    if (!found.old.empty()) live = co_await db.run(std::move(read_live));

    std::vector<candidate> doomed;
    std::uint64_t kept_live = 0;
    for (auto& c : found.old) {
        if (owned(c.name, live)) ++kept_live;
        else if (doomed.size() < o.cap) doomed.push_back(std::move(c));
    }
    struct removal {
        std::uint64_t folders = 0, files = 0, bytes = 0;
        std::vector<std::string> errors;
    };
    auto removing = offload(files.get_executor(), [doomed, dry_run = o.dry_run] {
        removal r;
        for (const auto& c : doomed) {
            std::error_code ec;
            if (!dry_run) fs::remove_all(c.path, ec);
            if (ec) {
                if (r.errors.size() < 10) r.errors.push_back(c.name + ": " + ec.message());
                continue;
            }
            (c.folder ? r.folders : r.files) += 1;
            r.bytes += c.bytes;
        }
        return r;
    });
    const removal done = co_await std::move(removing);
    nlohmann::json result{{"scratch_dir", dir.string()},
                          {"scanned", found.scanned},
                          {"deleted_folders", done.folders},
                          {"deleted_files", done.files},
                          {"freed_bytes", done.bytes},
                          {"freed_gb", std::round(static_cast<double>(done.bytes) / 1e6) / 1e3},
                          {"kept_recent", found.recent},
                          {"kept_live", kept_live},
                          {"kept_too_large", found.too_large},
                          {"left_for_next_run", found.old.size() - kept_live - doomed.size()}};
    if (!done.errors.empty()) result["errors"] = done.errors;
    co_return result;
}

}  // namespace wharf::maintenance::detail
