// The multipart-upload journal and the orphan rule (see multipart_journal.hpp).
#include "wharf/storage/multipart_journal.hpp"

#include "wharf/pg/job_state.hpp"

#include <pqxx/pqxx>

#include <algorithm>

namespace wharf::storage {
namespace {

constexpr const char* upload_columns =
    "provider, bucket, key, upload_id, job_id, attempt, (extract(epoch FROM created_at) * 1000)::bigint, job_queue";

open_upload upload_from(const pqxx::row& row) {
    open_upload u;
    u.provider = row[0].as<std::string>();
    u.bucket = row[1].as<std::string>();
    u.key = row[2].as<std::string>();
    u.upload_id = row[3].as<std::string>();
    u.job_id = row[4].as<std::string>();
    u.attempt = row[5].as<std::int32_t>();
    u.created_at = std::chrono::system_clock::time_point(std::chrono::milliseconds(row[6].as<std::int64_t>()));
    u.job_queue = row[7].as<std::string>();
    return u;
}

// Queued or running, or a status this version does not know: the job may still use its uploads.
bool owner_live(const std::optional<std::string>& status) {
    if (!status) return false;
    const auto parsed = pg::job_status_from_string(*status);
    return !parsed || !pg::is_final(*parsed);
}

bool same_upload(const open_upload& u, std::string_view provider, std::string_view bucket, std::string_view key,
                 std::string_view upload_id) {
    return u.provider == provider && u.bucket == bucket && u.key == key && u.upload_id == upload_id;
}

}  // namespace

void record_open_upload(pqxx::connection& c, const open_upload& u) {
    pqxx::work tx(c, "record_open_upload");
    tx.exec_params(
        "INSERT INTO multipart_uploads (provider, bucket, key, upload_id, job_id, attempt, job_queue) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7) "
        "ON CONFLICT (provider, bucket, key, upload_id, job_id, job_queue) DO NOTHING",
        u.provider, u.bucket, u.key, u.upload_id, u.job_id, u.attempt, u.job_queue);
    tx.commit();
}

bool forget_open_upload(pqxx::connection& c, const open_upload& u) {
    pqxx::work tx(c, "forget_open_upload");
    const auto gone = tx.exec_params(
        "DELETE FROM multipart_uploads WHERE provider = $1 AND bucket = $2 AND key = $3 AND upload_id = $4 "
        "AND job_id = $5 AND job_queue = $6",
        u.provider, u.bucket, u.key, u.upload_id, u.job_id, u.job_queue);
    tx.commit();
    return gone.affected_rows() > 0;
}

std::vector<open_upload> open_uploads_of_job(pqxx::connection& c, std::string_view job_queue,
                                             std::string_view job_id) {
    pqxx::read_transaction tx(c, "open_uploads_of_job");
    std::vector<open_upload> out;
    for (const auto& row : tx.exec_params(std::string("SELECT ") + upload_columns +
                                              " FROM multipart_uploads WHERE job_id = $1 AND job_queue = $2 "
                                              "ORDER BY created_at, id",
                                          std::string(job_id), std::string(job_queue)))
        out.push_back(upload_from(row));
    return out;
}

bool upload_shared_with_other_jobs(pqxx::connection& c, const open_upload& u) {
    pqxx::read_transaction tx(c, "upload_shared_with_other_jobs");
    return tx.exec_params1(
                 "SELECT count(*) FROM multipart_uploads WHERE provider = $1 AND bucket = $2 AND key = $3 "
                 "AND upload_id = $4 AND (job_id, job_queue) <> ($5, $6)",
                 u.provider, u.bucket, u.key, u.upload_id, u.job_id, u.job_queue)[0]
               .as<std::int64_t>() > 0;
}

key_rows rows_for_key(pqxx::connection& c, const open_upload& u) {
    pqxx::read_transaction tx(c, "rows_for_key");
    key_rows out;
    for (const auto& row : tx.exec_params(
             "SELECT upload_id, job_id, job_queue FROM multipart_uploads "
             "WHERE provider = $1 AND bucket = $2 AND key = $3",
             u.provider, u.bucket, u.key)) {
        out.upload_ids.push_back(row[0].as<std::string>());
        if (row[1].as<std::string>() != u.job_id || row[2].as<std::string>() != u.job_queue) out.other_jobs = true;
    }
    return out;
}

std::vector<incomplete_upload> uploads_left_by_intent(const open_upload& intent,
                                                      const std::vector<incomplete_upload>& listed,
                                                      const std::vector<std::string>& recorded_ids) {
    std::vector<incomplete_upload> out;
    for (const auto& up : listed) {
        if (up.key != intent.key) continue;
        if (std::find(recorded_ids.begin(), recorded_ids.end(), up.upload_id) != recorded_ids.end()) continue;
        out.push_back(up);
    }
    return out;
}

std::vector<journal_entry> list_open_uploads(pqxx::connection& c) {
    pqxx::read_transaction tx(c, "list_open_uploads");
    std::vector<journal_entry> out;
    for (const auto& row : tx.exec(std::string("SELECT ") + upload_columns +
                                   ", (SELECT status FROM jobs WHERE jobs.id = multipart_uploads.job_id "
                                   "AND jobs.queue = multipart_uploads.job_queue) "
                                   "FROM multipart_uploads ORDER BY created_at, id")) {
        journal_entry e{upload_from(row), std::nullopt};
        if (!row[8].is_null()) e.job_status = row[8].as<std::string>();
        out.push_back(std::move(e));
    }
    return out;
}

std::vector<orphan> find_orphans(const std::vector<journal_entry>& recorded,
                                 const std::vector<provider_listing>& listed, std::chrono::system_clock::time_point now,
                                 std::chrono::seconds older_than) {
    const auto cutoff = now - older_than;
    const auto live_owner_shares = [&](const open_upload& u) {
        return std::any_of(recorded.begin(), recorded.end(), [&](const journal_entry& e) {
            return owner_live(e.job_status) && same_upload(e.upload, u.provider, u.bucket, u.key, u.upload_id);
        });
    };
    std::vector<orphan> out;
    for (const auto& e : recorded) {
        const auto& u = e.upload;
        if (owner_live(e.job_status) || u.created_at > cutoff) continue;
        if (live_owner_shares(u)) continue;
        out.push_back(orphan{u.provider, u.bucket, u.key, u.upload_id, u.job_id,
                             e.job_status ? "job " + *e.job_status : std::string("job gone"), u.created_at,
                             u.job_queue});
    }
    for (const auto& l : listed) {
        for (const auto& up : l.uploads) {
            const bool known = std::any_of(recorded.begin(), recorded.end(), [&](const journal_entry& e) {
                return same_upload(e.upload, l.provider, l.bucket, up.key, up.upload_id);
            });
            if (known || up.initiated > cutoff) continue;
            out.push_back(
                orphan{l.provider, l.bucket, up.key, up.upload_id, std::nullopt, "not recorded", up.initiated, {}});
        }
    }
    std::stable_sort(out.begin(), out.end(), [](const orphan& a, const orphan& b) { return a.since < b.since; });
    return out;
}

// GCC 12 relocates class-type temporaries of a co_await full-expression bitwise (invalid frees),
// so each call below builds its awaitable in a statement of its own and then awaits it.
boost::asio::awaitable<void> multipart_journal::record(open_upload u) {
    auto op = db_->run([&u](pqxx::connection& c) { record_open_upload(c, u); });
    co_await std::move(op);
}

boost::asio::awaitable<void> multipart_journal::forget(open_upload u) {
    auto op = db_->run([&u](pqxx::connection& c) { forget_open_upload(c, u); });
    co_await std::move(op);
}

boost::asio::awaitable<std::vector<open_upload>> multipart_journal::of_job(std::string job_queue, std::string job_id) {
    auto op = db_->run([&job_queue, &job_id](pqxx::connection& c) { return open_uploads_of_job(c, job_queue, job_id); });
    co_return co_await std::move(op);
}

boost::asio::awaitable<key_rows> multipart_journal::for_key(open_upload u) {
    auto op = db_->run([&u](pqxx::connection& c) { return rows_for_key(c, u); });
    co_return co_await std::move(op);
}

boost::asio::awaitable<bool> multipart_journal::shared_with_other_jobs(open_upload u) {
    auto op = db_->run([&u](pqxx::connection& c) { return upload_shared_with_other_jobs(c, u); });
    co_return co_await std::move(op);
}

}  // namespace wharf::storage
