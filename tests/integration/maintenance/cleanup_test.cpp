#include "fleet.hpp"

#include "wharf/storage/catalog.hpp"
#include "wharf/storage/multipart_journal.hpp"
#include "wharf/test/moto_server.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include <pqxx/pqxx>

#include <filesystem>
#include <set>
#include <fstream>
#include <thread>

using namespace std::chrono_literals;
using json = nlohmann::json;
using wharf::test::fleet;
namespace s = wharf::storage;

namespace {

class cleanup : public ::testing::Test {
protected:
    fleet f;
    wharf::test::logs_on_failure dump{f};

    void sql(const std::string& text) { f.count("WITH done AS (" + text + " RETURNING 1) SELECT count(*) FROM done"); }

    // A job row as a worker would have left it.
    void row(const std::string& id, const std::string& queue, const std::string& status, const std::string& started_ago,
             const std::string& finished_ago = "", const std::string& parent = "", std::int64_t entry_ms = 1) {
        sql(fmt::format("INSERT INTO jobs (id, queue, status, attempts, max_attempts, epoch, entry_ms, entry_seq, delivery, "
                        "parent_id, started_at, finished_at) VALUES ('{}', '{}', '{}', 1, 3, 1, {}, 0, 1, {}, now() - "
                        "interval '{}', {})",
                        id, queue, status, entry_ms, parent.empty() ? "NULL" : "'" + parent + "'", started_ago,
                        finished_ago.empty() ? "NULL" : "now() - interval '" + finished_ago + "'"));
    }

    json ctl_json(std::vector<std::string> args) {
        args.push_back("--json");
        const auto r = f.ctl(args);
        EXPECT_EQ(r.status, 0) << r.output;
        return r.status == 0 ? json::parse(r.output) : json::object();
    }
};

}  // namespace

TEST_F(cleanup, stuck_jobs_fails_only_the_jobs_no_live_worker_holds) {
    f.start_worker({"--queues", "sleep=2,cleanup=1,pipeline=1", "--lease", "2s"});
    // A live, renewing job that has been running "for a day": its worker holds its entry.
    const auto live = f.enqueue("sleep", json{{"v", 1}, {"id", "live-1"}, {"payload", {{"ms", 30000}}}});
    (void)live;
    ASSERT_TRUE(fleet::eventually([&] { return wharf::test::status_of(f, "live-1") == "running"; }, 30s));
    sql("UPDATE jobs SET started_at = now() - interval '25 hours' WHERE id = 'live-1'");
    // A job whose worker died a day ago and whose entry is gone (Redis lost it): stuck.
    row("dead-1", "sleep", "running", "25 hours", "", "", 1700000000000);
    // Running for an hour: not old enough.
    row("young-1", "sleep", "running", "1 hour");

    auto dry = ctl_json({"cleanup", "stuck-jobs", "--dry-run"});
    EXPECT_EQ(dry["marked_as_failed"], 1) << dry.dump();
    EXPECT_EQ(dry["kept_renewing"], 1) << dry.dump();
    EXPECT_EQ(wharf::test::status_of(f, "dead-1"), "running");

    // Through the queue, as the scheduler runs it.
    f.enqueue("cleanup", json{{"v", 1}, {"id", "sweep-1"}, {"payload", {{"task", "stuck_jobs"}}}});
    ASSERT_TRUE(fleet::eventually([&] { return wharf::test::status_of(f, "sweep-1") == "succeeded"; }, 30s));
    const auto result = json::parse(f.job("sweep-1")->result.value_or("{}"));
    EXPECT_EQ(result["marked_as_failed"], 1) << result.dump();
    EXPECT_EQ(result["kept_renewing"], 1) << result.dump();
    EXPECT_EQ(wharf::test::status_of(f, "dead-1"), "failed");
    EXPECT_EQ(f.job("dead-1")->error.value_or(""), "Job timeout - stuck in processing");
    EXPECT_EQ(wharf::test::status_of(f, "young-1"), "running");
    EXPECT_EQ(wharf::test::status_of(f, "live-1"), "running");
    EXPECT_EQ(f.count("SELECT count(*) FROM maintenance_runs WHERE task = 'stuck_jobs' AND job_id = 'sweep-1' "
                      "AND status = 'succeeded' AND (result->>'marked_as_failed')::int = 1"),
              1);
    EXPECT_EQ(f.count("SELECT count(*) FROM maintenance_runs WHERE dry_run"), 1);
    // A second run finds nothing more; the live job ends as it would have.
    auto again = ctl_json({"cleanup", "stuck-jobs"});
    EXPECT_EQ(again["marked_as_failed"], 0);
    ASSERT_TRUE(fleet::eventually([&] { return wharf::test::status_of(f, "live-1") == "succeeded"; }, 40s));
}

TEST_F(cleanup, job_retention_deletes_old_rows_in_batches_and_pipelines_whole) {
    sql("INSERT INTO jobs (id, queue, status, finished_at) SELECT 'old-' || g, 'noop', 'succeeded', now() - interval '40 days' "
        "FROM generate_series(1, 1200) g");
    sql("INSERT INTO jobs (id, queue, status, finished_at) SELECT 'recent-' || g, 'noop', 'failed', now() - interval '2 days' "
        "FROM generate_series(1, 10) g");
    sql("INSERT INTO jobs (id, queue, status, finished_at) SELECT 'upl-' || g, 'upload', 'succeeded', now() - interval '2 days' "
        "FROM generate_series(1, 5) g");
    row("still-running", "noop", "running", "40 days");
    // A pipeline that ended long ago goes whole; a running one keeps even its old steps.
    for (const char* p : {"p-old", "p-running"}) {
        const bool old = std::string{p} == "p-old";
        sql(fmt::format("INSERT INTO pipelines (id, video_id, status, spec, finished_at) VALUES ('{}', '{}', '{}', '{{}}', {})",
                        p, p, old ? "succeeded" : "running", old ? "now() - interval '40 days'" : "NULL"));
        row(p, "pipeline", old ? "succeeded" : "waiting", "41 days", old ? "40 days" : "");
        row(std::string{p} + ":ingest", "download", "succeeded", "41 days", "41 days", p);
        row(std::string{p} + ":transcode", "transcode", "succeeded", "41 days", "40 days", p);
    }

    auto dry = ctl_json({"cleanup", "job-retention", "--dry-run"});
    EXPECT_EQ(dry["deleted_jobs"], 1203) << dry.dump();  // 1200 + the old pipeline's 3 rows
    EXPECT_EQ(f.count("SELECT count(*) FROM jobs"), 1200 + 10 + 5 + 1 + 6);

    auto capped = ctl_json({"cleanup", "job-retention", "--limit", "100", "--batch", "100"});
    EXPECT_LE(capped["deleted_jobs"].get<int>(), 103) << capped.dump();
    EXPECT_GE(capped["deleted_jobs"].get<int>(), 100) << capped.dump();

    auto run = ctl_json({"cleanup", "job-retention", "--batch", "500"});
    EXPECT_EQ(run["deleted_jobs"].get<int>() + capped["deleted_jobs"].get<int>(), 1203) << run.dump();
    // The space of the deleted rows is reusable at once: the run vacuumed the table itself.
    EXPECT_EQ(run["vacuumed"], true) << run.dump();
    EXPECT_EQ(dry["vacuumed"], false) << dry.dump();
    EXPECT_TRUE(fleet::eventually(
        [&] { return f.count("SELECT count(*) FROM pg_stat_user_tables WHERE relname = 'jobs' AND last_vacuum IS NOT NULL") == 1; },
        5s));
    EXPECT_EQ(f.count("SELECT count(*) FROM jobs WHERE id LIKE 'old-%'"), 0);
    EXPECT_EQ(f.count("SELECT count(*) FROM jobs WHERE id LIKE 'p-old%'"), 0);
    EXPECT_EQ(f.count("SELECT count(*) FROM pipelines WHERE id = 'p-old'"), 0);
    EXPECT_EQ(f.count("SELECT count(*) FROM jobs WHERE id LIKE 'p-running%'"), 3);
    EXPECT_EQ(f.count("SELECT count(*) FROM jobs WHERE id = 'still-running'"), 1);
    EXPECT_EQ(f.count("SELECT count(*) FROM jobs WHERE id LIKE 'recent-%' OR id LIKE 'upl-%'"), 15);

    // A shorter retention for one queue.
    auto per_queue = ctl_json({"cleanup", "job-retention", "--retention", "noop=1d"});
    EXPECT_EQ(per_queue["deleted_jobs"], 10) << per_queue.dump();
    EXPECT_EQ(f.count("SELECT count(*) FROM jobs WHERE id LIKE 'upl-%'"), 5);

    // Bad requests are refused before anything runs.
    EXPECT_EQ(f.ctl({"cleanup", "job-retention", "--retention", "No Such=1d"}).status, 2);
    EXPECT_EQ(f.ctl({"cleanup", "everything"}).status, 2);
    EXPECT_EQ(f.ctl({"cleanup", "stuck-jobs", "--older-than", "soon"}).status, 2);
}

TEST_F(cleanup, stale_multipart_aborts_what_no_live_job_owns_through_a_cleanup_job) {
    wharf::test::moto_server moto;
    moto.create_bucket("media");
    const auto done = moto.begin_upload("media", "videos/a/done.bin", 1000);
    const auto running = moto.begin_upload("media", "videos/a/running.bin", 1000);
    {
        pqxx::connection c(f.postgres().url());
        s::record_open_upload(c, s::open_upload{"moto", "media", "videos/a/done.bin", done, "j-done", 1, {}, "upload"});
        s::record_open_upload(c, s::open_upload{"moto", "media", "videos/a/running.bin", running, "j-running", 1, {}, "upload"});
    }
    row("j-done", "upload", "succeeded", "2 hours", "1 hour");
    row("j-running", "upload", "running", "2 hours");
    const std::string providers =
        R"([{"name":"moto","kind":"s3","profile":"generic","endpoint":")" + moto.endpoint() +
        R"(","region":"us-east-1","bucket":"media","access_key_id":"testing","secret_access_key":"testing"}])";
    f.start_worker({"--queues", "cleanup=1", "--storage-providers", providers});

    // Younger than the default 24 h: nothing to do.
    f.enqueue("cleanup", json{{"v", 1}, {"id", "mp-1"}, {"payload", {{"task", "stale_multipart"}}}});
    ASSERT_TRUE(fleet::eventually([&] { return wharf::test::status_of(f, "mp-1") == "succeeded"; }, 30s));
    EXPECT_EQ(json::parse(f.job("mp-1")->result.value_or("{}"))["found"], 0);

    // Two days old: the succeeded job's upload is an orphan, the running job's is not.
    sql("UPDATE multipart_uploads SET created_at = now() - interval '2 days'");
    f.enqueue("cleanup", json{{"v", 1}, {"id", "mp-2"}, {"payload", {{"task", "stale_multipart"}, {"dry_run", true}}}});
    ASSERT_TRUE(fleet::eventually([&] { return wharf::test::status_of(f, "mp-2") == "succeeded"; }, 30s));
    EXPECT_EQ(json::parse(f.job("mp-2")->result.value_or("{}"))["found"], 1);
    EXPECT_EQ(moto.open_uploads("media").size(), 2u);

    f.enqueue("cleanup", json{{"v", 1}, {"id", "mp-3"}, {"payload", {{"task", "stale_multipart"}}}});
    ASSERT_TRUE(fleet::eventually([&] { return wharf::test::status_of(f, "mp-3") == "succeeded"; }, 30s));
    const auto result = json::parse(f.job("mp-3")->result.value_or("{}"));
    EXPECT_EQ(result["found"], 1) << result.dump();
    EXPECT_EQ(result["aborted"], 1) << result.dump();
    const auto open = moto.open_uploads("media");
    ASSERT_EQ(open.size(), 1u);
    EXPECT_EQ(f.count("SELECT count(*) FROM multipart_uploads"), 1);
    EXPECT_EQ(f.count("SELECT count(*) FROM multipart_uploads WHERE job_id = 'j-running'"), 1);
}

TEST_F(cleanup, temp_objects_deletes_what_is_over_at_the_provider_and_in_the_catalog) {
    wharf::test::temp_dir dir("wharf-temp-objects");
    const auto root = dir.path() / "store";
    const std::string providers = R"([{"name":"loc","kind":"local","root":")" + root.string() + R"("}])";
    // Objects: a finished pipeline's (old), a running pipeline's (old), a finished one's stored an
    // hour ago, and an old permanent one.
    const std::vector<std::pair<std::string, std::string>> objects{
        {"temp/p-done/source.mp4", "2 days"}, {"temp/p-live/source.mp4", "2 days"},
        {"temp/p-done/young.mp4", "1 hour"}, {"videos/v/keep.mp4", "2 days"}};
    {
        pqxx::connection c(f.postgres().url());
        s::ensure_provider(c, "loc", 1ull << 30);
        for (const auto& [key, age] : objects) {
            std::filesystem::create_directories((root / key).parent_path());
            std::ofstream(root / key) << std::string(1000, 'x');
            s::object_record r;
            r.provider = "loc";
            r.bucket = root.string();
            r.key = key;
            r.size = 1000;
            r.sha256 = std::string(64, 'a');
            r.api_key = "tenant";
            r.prefix_class = key.starts_with("temp/") ? s::prefix_class::temp : s::prefix_class::permanent;
            s::record_object(c, r);
            pqxx::work tx(c);
            tx.exec_params("UPDATE objects SET created_at = now() - $2::interval WHERE key = $1", key, age);
            tx.commit();
        }
    }
    sql("INSERT INTO pipelines (id, video_id, status, spec) VALUES ('p-done', 'v', 'succeeded', '{}'), "
        "('p-live', 'v', 'running', '{}')");
    const auto usage = [&] { return f.count("SELECT total_bytes FROM storage_stats WHERE provider = 'loc'"); };
    ASSERT_EQ(usage(), 4000);

    auto dry = ctl_json({"cleanup", "temp-objects", "--dry-run", "--storage-providers", providers});
    EXPECT_EQ(dry["deleted_objects"], 1) << dry.dump();
    EXPECT_TRUE(std::filesystem::exists(root / "temp/p-done/source.mp4"));

    // The object already gone at the provider (a run killed between the two deletes): the row goes too.
    std::filesystem::remove(root / "temp/p-done/source.mp4");
    auto run = ctl_json({"cleanup", "temp-objects", "--storage-providers", providers});
    EXPECT_EQ(run["deleted_objects"], 1) << run.dump();
    EXPECT_EQ(run["freed_bytes"], 1000) << run.dump();
    EXPECT_EQ(usage(), 3000);
    EXPECT_EQ(f.count("SELECT count(*) FROM objects WHERE deleted_at IS NULL"), 3);
    EXPECT_EQ(f.count("SELECT coalesce(sum(size), 0) FROM objects WHERE deleted_at IS NULL AND provider = 'loc'"), usage());
    EXPECT_TRUE(std::filesystem::exists(root / "temp/p-live/source.mp4"));
    EXPECT_TRUE(std::filesystem::exists(root / "temp/p-done/young.mp4"));
    EXPECT_TRUE(std::filesystem::exists(root / "videos/v/keep.mp4"));

    // Once the live pipeline is over, its temp object goes too, file and row.
    sql("UPDATE pipelines SET status = 'failed' WHERE id = 'p-live'");
    run = ctl_json({"cleanup", "temp-objects", "--storage-providers", providers});
    EXPECT_EQ(run["deleted_objects"], 1) << run.dump();
    EXPECT_FALSE(std::filesystem::exists(root / "temp/p-live/source.mp4"));
    EXPECT_EQ(usage(), 2000);
    // A run without that provider configured keeps its objects: removing only the rows would
    // leave the files behind, uncounted.
    sql("UPDATE objects SET created_at = now() - interval '2 days' WHERE key = 'temp/p-done/young.mp4'");
    const auto other = R"([{"name":"elsewhere","kind":"local","root":")" + (dir.path() / "other").string() + R"("}])";
    run = ctl_json({"cleanup", "temp-objects", "--storage-providers", other});
    EXPECT_EQ(run["deleted_objects"], 0) << run.dump();
    EXPECT_EQ(run["skipped_unconfigured"], 1) << run.dump();
    EXPECT_TRUE(std::filesystem::exists(root / "temp/p-done/young.mp4"));
    EXPECT_EQ(usage(), 2000);
}

namespace {

// A scratch entry as a job leaves it, last written `age` ago (every file and folder in it).
void scratch_entry(const std::filesystem::path& path, bool folder, std::chrono::hours age,
                   std::size_t bytes = 1000) {
    namespace fs = std::filesystem;
    if (folder) {
        fs::create_directories(path / "out" / "720p");
        std::ofstream(path / "out" / "720p" / "segment_00000.m4s") << std::string(bytes, 's');
        std::ofstream(path / "source") << std::string(bytes, 'v');
    } else {
        std::ofstream(path) << std::string(bytes, 'p');
    }
    const auto when = fs::file_time_type::clock::now() - age;
    if (folder) {
        for (const auto& e : fs::recursive_directory_iterator(path)) fs::last_write_time(e.path(), when);
    }
    fs::last_write_time(path, when);
}

}  // namespace

TEST_F(cleanup, temp_files_removes_what_dead_jobs_left_and_keeps_live_and_recent_scratch) {
    namespace fs = std::filesystem;
    wharf::test::temp_dir dir("wharf-temp-files");
    const fs::path scratch = dir.path() / "scratch";
    fs::create_directories(scratch);
    // Left by dead jobs a day and more ago: a transcode folder, a partial download and its sidecar.
    scratch_entry(scratch / "transcode-transcode-dead-1+0000abcd", true, 30h);
    scratch_entry(scratch / "download-download-dead-2.part", false, 48h);
    scratch_entry(scratch / "download-download-dead-2.part.json", false, 48h, 100);
    // Owned: a running job's partial download (its take-over continues it) and a retry-waiting
    // job's publish file, however old. live-30 is not live-3's.
    row("live-3", "download", "running", "2 days");
    row("waiting-5", "publish", "waiting", "2 days");
    scratch_entry(scratch / "download-download-live-3.part", false, 48h);
    scratch_entry(scratch / "publish-read-publish-waiting-5.txt", false, 48h);
    scratch_entry(scratch / "download-download-live-30.part", false, 48h);
    // Still being written: an old folder with one fresh file in it, and a fresh file.
    scratch_entry(scratch / "transcode-transcode-busy-4+11112222", true, 30h);
    std::ofstream(scratch / "transcode-transcode-busy-4+11112222" / "out" / "720p" / "segment_00001.m4s") << "new";
    scratch_entry(scratch / "upload-upload-young-6", false, 1h);

    auto dry = ctl_json({"cleanup", "temp-files", "--dry-run", "--scratch-dir", scratch.string()});
    EXPECT_EQ(dry["deleted_folders"], 1) << dry.dump();
    EXPECT_EQ(dry["deleted_files"], 3) << dry.dump();
    EXPECT_TRUE(fs::exists(scratch / "download-download-dead-2.part"));

    auto run = ctl_json({"cleanup", "temp-files", "--scratch-dir", scratch.string()});
    EXPECT_EQ(run["scanned"], 8) << run.dump();
    EXPECT_EQ(run["deleted_folders"], 1) << run.dump();
    EXPECT_EQ(run["deleted_files"], 3) << run.dump();
    EXPECT_EQ(run["freed_bytes"], 2000 + 1000 + 100 + 1000) << run.dump();
    EXPECT_EQ(run["kept_live"], 2) << run.dump();
    EXPECT_EQ(run["kept_recent"], 2) << run.dump();
    std::set<std::string> left;
    for (const auto& e : fs::directory_iterator(scratch)) left.insert(e.path().filename().string());
    EXPECT_EQ(left, (std::set<std::string>{"download-download-live-3.part", "publish-read-publish-waiting-5.txt",
                                           "transcode-transcode-busy-4+11112222", "upload-upload-young-6"}));
    EXPECT_EQ(f.count("SELECT count(*) FROM maintenance_runs WHERE task = 'temp_files' AND status = 'succeeded'"), 2);
    // Without a folder to sweep there is nothing to guess.
    const auto refused = f.ctl({"cleanup", "temp-files"});
    EXPECT_EQ(refused.status, 2) << refused.output;

    // A worker that stores sweeps its own scratch directory by itself (here every 500 ms), and a
    // cleanup job sweeps the scratch of the worker that runs it.
    sql("UPDATE jobs SET status = 'failed', finished_at = now() WHERE id = 'live-3'");
    f.start_worker({"--queues", "cleanup=1", "--scratch-dir", scratch.string(), "--scratch-sweep-interval", "500ms"});
    ASSERT_TRUE(fleet::eventually([&] { return !fs::exists(scratch / "download-download-live-3.part"); }, 30s));
    EXPECT_TRUE(fs::exists(scratch / "publish-read-publish-waiting-5.txt"));
    EXPECT_GE(f.count("SELECT count(*) FROM maintenance_runs WHERE task = 'temp_files' AND job_id IS NULL "
                      "AND NOT dry_run"),
              2);
    sql("UPDATE jobs SET status = 'succeeded', finished_at = now() WHERE id = 'waiting-5'");
    f.enqueue("cleanup", json{{"v", 1}, {"id", "sweep-files"}, {"payload", {{"task", "temp_files"}}}});
    ASSERT_TRUE(fleet::eventually([&] { return wharf::test::status_of(f, "sweep-files") == "succeeded"; }, 30s));
    EXPECT_FALSE(fs::exists(scratch / "publish-read-publish-waiting-5.txt"));
    EXPECT_TRUE(fs::exists(scratch / "upload-upload-young-6"));
}

TEST_F(cleanup, failed_jobs_deletes_the_objects_of_long_failed_jobs_and_marks_them_cleaned_up) {
    wharf::test::temp_dir dir("wharf-failed-jobs");
    const auto root = dir.path() / "store";
    wharf::test::moto_server moto;
    moto.create_bucket("media");
    const std::string providers =
        R"([{"name":"loc","kind":"local","root":")" + root.string() +
        R"("},{"name":"moto","kind":"s3","profile":"generic","endpoint":")" + moto.endpoint() +
        R"(","region":"us-east-1","bucket":"media","access_key_id":"testing","secret_access_key":"testing"}])";
    // job id, queue, status, ended ago, parent
    row("f-old", "upload", "failed", "9 days", "8 days");
    row("d-old", "upload", "dead", "9 days", "8 days");
    row("f-young", "upload", "failed", "2 days", "1 day");
    row("s-old", "upload", "succeeded", "9 days", "8 days");
    row("p-fail", "pipeline", "failed", "9 days", "8 days");
    row("p-fail:transcode", "transcode", "succeeded", "9 days", "8 days", "p-fail");
    row("p-live", "pipeline", "waiting", "9 days");
    row("p-live:download", "download", "failed", "9 days", "8 days", "p-live");
    row("f-elsewhere", "upload", "failed", "9 days", "8 days");
    row("f-nothing", "upload", "failed", "9 days", "8 days");
    sql("UPDATE jobs SET error = 'transcode: exit 1' WHERE id = 'f-old'");
    sql("INSERT INTO pipelines (id, video_id, status, spec) VALUES ('p-fail', 'v', 'failed', '{}'), "
        "('p-live', 'w', 'running', '{}')");
    struct object {
        std::string provider, key, job, queue;
    };
    const std::vector<object> objects{
        {"loc", "videos/f-old/a.mp4", "f-old", "upload"},       {"moto", "videos/f-old/b.mp4", "f-old", "upload"},
        {"moto", "videos/d-old/a.mp4", "d-old", "upload"},      {"loc", "videos/f-young/a.mp4", "f-young", "upload"},
        {"loc", "videos/s-old/a.mp4", "s-old", "upload"},       {"moto", "processed/v/720p.m3u8", "p-fail:transcode", "transcode"},
        {"loc", "temp/p-live/source.mp4", "p-live:download", "download"},
        {"gone", "videos/f-elsewhere/a.mp4", "f-elsewhere", "upload"}};
    {
        pqxx::connection c(f.postgres().url());
        for (const auto* p : {"loc", "moto", "gone"}) s::ensure_provider(c, p, 1ull << 30);
        for (const auto& o : objects) {
            if (o.provider == "loc") {
                std::filesystem::create_directories((root / o.key).parent_path());
                std::ofstream(root / o.key) << std::string(1000, 'x');
            } else if (o.provider == "moto") {
                moto.put_object("media", o.key, 1000);
            }
            s::object_record r;
            r.provider = o.provider;
            r.bucket = o.provider == "loc" ? root.string() : "media";
            r.key = o.key;
            r.size = 1000;
            r.sha256 = std::string(64, 'a');
            r.api_key = "tenant";
            r.prefix_class = o.key.starts_with("temp/") ? s::prefix_class::temp : s::prefix_class::permanent;
            r.job_id = o.job;
            r.job_queue = o.queue;
            s::record_object(c, r);
        }
    }
    const auto usage = [&](const std::string& p) {
        return f.count("SELECT total_bytes FROM storage_stats WHERE provider = '" + p + "'");
    };
    const auto status = [&](const std::string& id) { return wharf::test::status_of(f, id); };
    ASSERT_EQ(usage("loc") + usage("moto"), 7000);

    auto dry = ctl_json({"cleanup", "failed-jobs", "--dry-run", "--storage-providers", providers});
    EXPECT_EQ(dry["cleaned_up_jobs"], 5) << dry.dump();  // f-old, d-old, p-fail, f-elsewhere, f-nothing
    EXPECT_EQ(dry["deleted_objects"], 5) << dry.dump();
    EXPECT_EQ(status("f-old"), "failed");
    EXPECT_EQ(moto.list_objects("media").size(), 3u);

    // One object already gone at the provider (a run killed between the provider and the catalog).
    std::filesystem::remove(root / "videos/f-old/a.mp4");
    // One job at a time: the cursor goes on past the job it cannot finish.
    auto run = ctl_json({"cleanup", "failed-jobs", "--batch", "1", "--storage-providers", providers});
    EXPECT_EQ(run["examined_jobs"], 5) << run.dump();
    EXPECT_EQ(run["cleaned_up_jobs"], 4) << run.dump();
    EXPECT_EQ(run["deleted_objects"], 4) << run.dump();
    EXPECT_EQ(run["freed_bytes"], 4000) << run.dump();
    EXPECT_EQ(run["skipped_unconfigured"], 1) << run.dump();
    for (const auto* id : {"f-old", "d-old", "p-fail", "f-nothing"}) EXPECT_EQ(status(id), "cleaned_up") << id;
    EXPECT_EQ(status("f-elsewhere"), "failed");  // its object is on a provider this run does not have
    EXPECT_EQ(status("f-young"), "failed");
    EXPECT_EQ(status("s-old"), "succeeded");
    EXPECT_EQ(status("p-fail:transcode"), "succeeded");
    EXPECT_EQ(status("p-live:download"), "failed");  // its pipeline still runs
    EXPECT_EQ(f.job("f-old")->error, "transcode: exit 1");  // why it failed is kept
    EXPECT_FALSE(std::filesystem::exists(root / "videos/f-old/a.mp4"));
    EXPECT_TRUE(std::filesystem::exists(root / "videos/f-young/a.mp4"));
    EXPECT_TRUE(std::filesystem::exists(root / "videos/s-old/a.mp4"));
    EXPECT_TRUE(std::filesystem::exists(root / "temp/p-live/source.mp4"));
    std::set<std::string> left;
    for (const auto& o : moto.list_objects("media")) left.insert(o.key);
    EXPECT_EQ(left, std::set<std::string>{}) << "moto kept objects of cleaned-up jobs";
    // Accounting equals the catalog afterwards, provider by provider.
    for (const auto* p : {"loc", "moto"})
        EXPECT_EQ(f.count(fmt::format("SELECT coalesce(sum(size), 0) FROM objects WHERE deleted_at IS NULL AND provider = '{}'", p)),
                  usage(p))
            << p;
    EXPECT_EQ(usage("loc"), 3000);
    EXPECT_EQ(usage("moto"), 0);

    // A second run has nothing left but the job whose provider it lacks; one that has it finishes it.
    run = ctl_json({"cleanup", "failed-jobs", "--storage-providers", providers});
    EXPECT_EQ(run["cleaned_up_jobs"], 0) << run.dump();
    sql("UPDATE objects SET provider = 'loc', bucket = '" + root.string() + "' WHERE key = 'videos/f-elsewhere/a.mp4'");
    run = ctl_json({"cleanup", "failed-jobs", "--storage-providers", providers});
    EXPECT_EQ(run["cleaned_up_jobs"], 1) << run.dump();
    EXPECT_EQ(status("f-elsewhere"), "cleaned_up");
    EXPECT_EQ(f.count("SELECT count(*) FROM maintenance_runs WHERE task = 'failed_jobs' AND status = 'succeeded'"), 4);
}
