// The multipart uploads jobs have open at providers, in PostgreSQL (migrations/0003), and the
// rule that says which of them are orphans.
//
// A job records an upload through put_options::on_upload_created, after the provider created it
// and before any part is sent, and forgets it once the upload completed or was aborted. A row that
// remains was left by an attempt that died (kill -9, a lost host): the job's next attempt aborts
// the uploads recorded for its id before it uploads again, and `wharfctl storage orphans` finds
// the rest (their job is final or gone, or the provider lists an upload nobody recorded).
//
// The functions taking pqxx::connection& block: call them inside pg::pool::run.
// `multipart_journal` wraps the ones a job needs for coroutines.
#pragma once

#include "wharf/pg/pool.hpp"  // pg::pool and the pqxx::connection declaration
#include "wharf/storage/provider.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::storage {

// One row of multipart_uploads.
// The job that opened it is (job_queue, job_id), as in the jobs table.
struct open_upload {
    std::string provider, bucket, key, upload_id, job_id;
    std::int32_t attempt = 1;
    std::chrono::system_clock::time_point created_at;  // set by PostgreSQL when recorded
    std::string job_queue = "upload";
};

// An intent: the row a job writes before it asks a provider to create an upload, with this in
// place of the upload id. A worker killed after the provider created the upload but before the
// real row was written leaves only the intent, and the intent names the provider and the key, so
// the next attempt can still find the upload (by listing that key) and abort it.
inline constexpr std::string_view creating_upload_id = "(creating)";
inline bool is_intent(const open_upload& u) noexcept { return u.upload_id == creating_upload_id; }

// The uploads an intent may have left: those the provider lists under exactly the intent's key
// that no row records. Pure. The caller makes sure no other job writes that key (every wharf job
// writes its intent before it creates an upload, so an unrecorded upload of a key only this job
// writes is this job's). Time plays no part: providers' clocks differ from PostgreSQL's, and moto
// reports one fixed date for every upload.
std::vector<incomplete_upload> uploads_left_by_intent(const open_upload& intent,
                                                      const std::vector<incomplete_upload>& listed,
                                                      const std::vector<std::string>& recorded_ids);

// Recording the same upload of the same job twice is a no-op.
void record_open_upload(pqxx::connection& c, const open_upload& u);
// Removes the row of this upload and job; false when there was none.
bool forget_open_upload(pqxx::connection& c, const open_upload& u);
// The uploads recorded for a job, oldest first.
std::vector<open_upload> open_uploads_of_job(pqxx::connection& c, std::string_view job_queue, std::string_view job_id);
// Whether another job has an upload recorded with the same provider, bucket, key and upload id
// (only possible for Azure, whose uploads are all "uncommitted": blocks belong to the key).
bool upload_shared_with_other_jobs(pqxx::connection& c, const open_upload& u);
// The rows for u's provider, bucket and key: the upload ids recorded for it by any job, and
// whether a job other than u's has a row (an upload or an intent) there.
struct key_rows {
    std::vector<std::string> upload_ids;
    bool other_jobs = false;
};
key_rows rows_for_key(pqxx::connection& c, const open_upload& u);

// A row with the state of the job that owns it.
struct journal_entry {
    open_upload upload;
    std::optional<std::string> job_status;  // jobs.status; nullopt when the job has no row
};
// Every row, joined with jobs (the journal lives in the job-state database).
std::vector<journal_entry> list_open_uploads(pqxx::connection& c);

// What a provider says is open.
struct provider_listing {
    std::string provider, bucket;
    std::vector<incomplete_upload> uploads;
};

struct orphan {
    std::string provider, bucket, key, upload_id;
    std::optional<std::string> job_id;  // nullopt: the provider lists it and no row records it
    std::string reason;                 // "job succeeded", "job gone", "not recorded", ...
    std::chrono::system_clock::time_point since;
    std::string job_queue;  // with job_id
};

// The orphans among the recorded and listed uploads, oldest first. Pure.
// - A recorded upload is an orphan when its job is final (succeeded, failed, dead, cancelled) or
//   has no row, and it was opened before now - older_than. A job that is queued or running (or
//   in a state this version does not know) owns its uploads: they are never orphans, and neither
//   is an upload that such a job shares by id (Azure blocks of the same key).
// - A listed upload that no row records is an orphan when it began before now - older_than.
// - An intent is an orphan like a recorded upload; there is nothing to abort for it (what it may
//   have left is listed by the provider, unrecorded), only its row to remove.
std::vector<orphan> find_orphans(const std::vector<journal_entry>& recorded,
                                 const std::vector<provider_listing>& listed, std::chrono::system_clock::time_point now,
                                 std::chrono::seconds older_than);

// The journal for coroutines, on the pool's threads (each call is idempotent, so the pool may
// retry it on a broken connection).
class multipart_journal {
public:
    explicit multipart_journal(pg::pool& db) : db_(&db) {}
    boost::asio::awaitable<void> record(open_upload u);
    boost::asio::awaitable<void> forget(open_upload u);
    boost::asio::awaitable<std::vector<open_upload>> of_job(std::string job_queue, std::string job_id);
    boost::asio::awaitable<bool> shared_with_other_jobs(open_upload u);
    boost::asio::awaitable<key_rows> for_key(open_upload u);

private:
    pg::pool* db_;
};

}  // namespace wharf::storage
