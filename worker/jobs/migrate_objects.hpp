// Moving stored objects from one provider to another: the `migrate-objects` job type (queue
// `migrate-objects`) and `wharfctl storage migrate` run the same code.
//
// A run has a manifest in PostgreSQL (migrations/0013: one row per object, with its state,
// attempts and last error). Each object goes
//   copy (streamed through the scratch directory: read from the source, its SHA-256 checked
//   against the catalog's, put at the destination with the upload journaled) -> verify (HEAD at
//   the destination: size and stored SHA-256) -> switch (catalog::relocate_object: the row and
//   both providers' usage in one transaction; the row keeps its id, age, tenant and tier) ->
//   delete the source.
// A run killed anywhere (kill -9) is finished by running the same migration again: an unfinished
// run with the same scope is resumed, objects stored under that scope since are added to its
// manifest, and each object's step is found again from the catalog (the row is where the switch
// left it), so no object is copied after its switch, counted twice or lost. A copy whose bytes
// differ from the catalog's SHA-256 never reaches the switch; a copy left at the destination by an
// object that could not be switched is removed again.
//
// One process runs a migration at a time: the run row carries a lease (owner host:pid, renewed
// while it runs); another process waits for it to end, or takes over at once when the owner is a
// dead process of the same host.
//
// Payload of the job type:
//   {"from": "local", "to": "s3-main", "prefix": "videos/", "api_key": "tenant-1",
//    "concurrency": 8, "dry_run": false}
// Result: the report (to_json below); a run with failed objects fails the job (retryable: the
// next attempt resumes the manifest and tries them again).
#pragma once

#include "storing.hpp"
#include "wharf/worker/registry.hpp"

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace wharf::worker {

struct migration_request {
    std::string from, to;                // configured provider names, different
    std::string prefix;                  // only keys starting with it; empty: all
    std::optional<std::string> api_key;  // only objects charged to this tenant
    std::size_t concurrency = 8;         // objects in flight, 1..64
};

// What a run would move (`--dry-run`): nothing is written.
struct migration_plan {
    std::uint64_t objects = 0, bytes = 0;
    std::uint64_t destination_free = 0;       // the destination's limit minus its usage
    std::optional<std::int64_t> resumes;      // an unfinished run of the same scope
    std::uint64_t already_done = 0;           // objects that run finished
};

struct migration_failure {
    std::string key, error;
};

struct migration_report {
    std::int64_t id = 0;                     // object_migrations.id
    std::uint64_t objects = 0, bytes = 0;    // in the manifest
    std::uint64_t moved = 0, moved_bytes = 0;  // switched (and the source deleted) by this run
    std::uint64_t completed = 0;             // switched by an earlier, killed run; the source deleted now
    std::uint64_t done_before = 0;           // finished by an earlier run of the migration
    std::uint64_t skipped = 0;               // deleted or replaced while the run went on
    std::uint64_t failed = 0;
    std::vector<migration_failure> failures;  // the first 100 (the manifest has every one)
    bool complete() const noexcept { return failed == 0; }
};

nlohmann::json to_json(const migration_plan& p);
nlohmann::json to_json(const migration_report& r);

// Throws permanent_error for a bad request (unknown or equal providers, concurrency out of range).
void check_migration_request(storage_services& s, const migration_request& r);

boost::asio::awaitable<migration_plan> plan_migration(storage_services& s, migration_request r);

// Runs (or resumes) the migration; `progress` is called after every object, on the caller's
// executor. Throws for what stops the whole run (PostgreSQL unreachable, the lease lost); a
// failed object is in the report.
boost::asio::awaitable<migration_report> migrate_objects(storage_services& s, boost::asio::any_io_executor executor,
                                                         migration_request r,
                                                         std::function<void(const migration_report&)> progress);

migration_request parse_migration_request(const nlohmann::json& payload);

// The `migrate-objects` job type (3 attempts, 24 h timeout, retries from 30 s to 10 min).
job_type migrate_objects_job_type(std::shared_ptr<storage_services> services);
void register_migrate_objects_job(job_registry& registry, std::shared_ptr<storage_services> services);

}  // namespace wharf::worker
