// The schedules tables (migrations/0007): definitions with their cursors, and one row per fire.
//
// Exactly one fire per slot, with any number of scheduler replicas and no leader: a tick plans a
// schedule from its cursor at the database's clock (plan_due), then in one transaction moves the
// cursor with a compare-and-set on its old value (one replica wins each plan; the others see the
// new cursor next tick) and inserts the fires, each with the job's 'queued' row. The XADD comes
// after the commit; a replica that dies before it leaves the fire `pending`, and any replica
// completes it (the job id is the fire's, so a second XADD is a duplicate the queue runs once).
//
// Blocking (pqxx::connection&): call inside pg::pool::run. enqueue_fire is the async part.
#pragma once

#include "wharf/pg/pool.hpp"  // the pqxx::connection declaration
#include "wharf/redis/connection.hpp"
#include "wharf/schedule/definition.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wharf::schedule {

using micros = std::chrono::time_point<std::chrono::system_clock, std::chrono::microseconds>;

struct schedule_row {
    definition def;
    micros cursor;
    std::int64_t missed = 0, coalesced = 0, skipped = 0;
};

// The database's clock: every time decision is taken with it, so a replica whose own clock is
// off changes nothing.
micros database_now(pqxx::connection& c);

struct apply_summary {
    std::vector<std::string> added, changed, unchanged, removed;
};
// Writes the definitions: a new schedule starts at the database's now (it fires no slot from
// before it); a changed one keeps its cursor and counters. With `prune`, schedules not in the
// list are deleted (their fire history with them).
apply_summary apply_definitions(pqxx::connection& c, const std::vector<definition>& defs, bool prune);

// Records the definitions whose names are not recorded yet; leaves the others as they are (an
// operator's changes to a built-in schedule stay). Returns the names added.
std::vector<std::string> add_missing(pqxx::connection& c, const std::vector<definition>& defs);

std::vector<schedule_row> load_schedules(pqxx::connection& c);
std::optional<schedule_row> load_schedule(pqxx::connection& c, std::string_view name);

// A fire whose XADD is due (pending), with the job it enqueues.
struct fire {
    std::string schedule;
    micros slot;
    std::string job_id;
    std::string queue;
    std::string payload_json = "{}";
    std::optional<std::string> api_key;
    std::optional<std::int32_t> max_attempts, timeout_s;
};

struct tick_result {
    bool won = false;            // this replica moved the cursor
    std::vector<fire> pending;   // fires recorded, to enqueue now
    std::int64_t skipped = 0;    // fires not enqueued: the previous run is still queued or running
    due_slots plan;
    // When the schedule's next slot is due (its jitter added), for a loop that wakes then instead
    // of waiting out its tick; nullopt when paused or when nothing will ever fire.
    std::optional<micros> next_due;
};
// Plans `s` at `now` and, if the plan moves the cursor, records it (see above).
tick_result tick(pqxx::connection& c, const schedule_row& s, micros now);

// A manual fire now (`wharfctl schedules trigger`): recorded pending like any other, regardless
// of overlap and of the paused flag. nullopt: no such schedule.
std::optional<fire> trigger(pqxx::connection& c, std::string_view name);

// Fires still pending that were recorded at least `min_age` ago (by a replica that may have died
// before its XADD), oldest first.
std::vector<fire> stale_pending(pqxx::connection& c, std::chrono::seconds min_age, std::size_t limit);
void mark_enqueued(pqxx::connection& c, const fire& f);

// Pauses or resumes; false when there is no such schedule. A resumed schedule plans from where it
// stopped, so the slots it slept through are caught up (or missed) by its catch-up policy.
bool set_paused(pqxx::connection& c, std::string_view name, bool paused);

// What `wharfctl schedules list` shows of one schedule's last fire.
struct last_fire {
    micros slot;
    std::string job_id, outcome;
    std::optional<std::string> job_status;  // the job's row, when there is one
};
std::optional<last_fire> load_last_fire(pqxx::connection& c, std::string_view name);

// XADDs the fire's job (its id the fire's). Idempotent: a second XADD of the same id is a
// duplicate delivery the queue runs once.
boost::asio::awaitable<void> enqueue_fire(redis::connection& redis, const fire& f);

}  // namespace wharf::schedule
