// The `transcode` job in real wharf-worker processes (redis-server, PostgreSQL, the local
// provider): a worker killed with kill -9 mid-transcode takes its ffmpeg with it, another worker
// takes the job over and finishes it once; a job past its timeout stops its ffmpeg. Neither
// leaves an ffmpeg or a scratch folder behind.
#include "wharf/test/clips.hpp"
#include "fleet.hpp"

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include <csignal>

namespace fs = std::filesystem;
using nlohmann::json;
using wharf::test::clips;
using wharf::test::fleet;
using wharf::test::logs_on_failure;
using wharf::test::status_of;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> worker_flags(const fs::path& dir) {
    const json providers = {{"providers", {{{"name", "local"}, {"kind", "local"}, {"root", (dir / "store").string()}}}}};
    return {"--queues",           "transcode=1",
            "--lease",            "3s",
            "--sweep",            "200ms",
            "--storage-providers", providers.dump(),
            "--scratch-dir",      (dir / "scratch").string(),
            "--local-source-roots", clips().dir.string(),
            "--transcode-preset", "ultrafast",
            "--transcode-threads", "1"};
}

}  // namespace

TEST(worker_transcode, kill_9_mid_transcode_is_taken_over_and_finished_once) {
    fleet f;
    logs_on_failure logs{f};
    wharf::test::temp_dir dir("wharf-transcode-kill");
    const auto flags = worker_flags(dir.path());
    auto& first = f.start_worker(flags);
    f.enqueue("transcode", {{"id", "clip-k9"}, {"payload", {{"source", clips().long_hd.string()}, {"video_id", "k9"}}}});

    // The first worker's ffmpeg, frozen so that the kill lands in the middle of the transcode.
    const auto found = wharf::test::wait_for_ffmpeg(dir.path(), 60s);
    ASSERT_EQ(found.size(), 1u);
    ::kill(found[0], SIGSTOP);
    EXPECT_EQ(wharf::test::entries_in(dir.path() / "scratch"), 1u);
    first.kill_hard();

    // PR_SET_PDEATHSIG: the kernel took ffmpeg down with its worker.
    EXPECT_TRUE(fleet::eventually([&] { return wharf::test::ffmpeg_processes_under(dir.path()).empty(); }, 10s));
    EXPECT_EQ(wharf::test::entries_in(dir.path() / "scratch"), 1u);  // the dead worker's, until the job runs again

    f.start_worker(flags);
    ASSERT_TRUE(fleet::eventually([&] { return status_of(f, "clip-k9") == "succeeded"; }, 120s)) << status_of(f, "clip-k9");
    const auto row = f.job("clip-k9");
    EXPECT_EQ(row->attempts, 1);  // a take-over, not a retry
    EXPECT_EQ(row->epoch, 2);
    const json result = json::parse(row->result.value_or("{}"));
    ASSERT_EQ(result["renditions"].size(), 2u);
    const auto artifacts = result["artifacts"].size();
    EXPECT_GT(artifacts, 10u);
    // Stored once each.
    EXPECT_EQ(f.count("SELECT count(*) FROM objects WHERE deleted_at IS NULL"), static_cast<std::int64_t>(artifacts));
    EXPECT_EQ(f.count("SELECT count(DISTINCT key) FROM objects"), static_cast<std::int64_t>(artifacts));
    for (const auto& a : result["artifacts"])
        EXPECT_TRUE(fs::is_regular_file(dir.path() / "store" / a["key"].get<std::string>())) << a["key"];
    const auto mp4 = dir.path() / "store" / result["renditions"][1]["mp4_key"].get<std::string>();
    EXPECT_NEAR(std::stod(wharf::test::ffprobe(mp4)["format"]["duration"].get<std::string>()), 8.0, 0.08);

    EXPECT_EQ(wharf::test::ffmpeg_processes_under(dir.path()), std::vector<pid_t>{});
    EXPECT_EQ(wharf::test::entries_in(dir.path() / "scratch"), 0u);
}

TEST(worker_transcode, a_job_past_its_timeout_stops_its_ffmpeg) {
    fleet f;
    logs_on_failure logs{f};
    wharf::test::temp_dir dir("wharf-transcode-timeout");
    f.start_worker(worker_flags(dir.path()));
    f.enqueue("transcode", {{"id", "clip-slow"},
                            {"timeout_s", 3},
                            {"max_attempts", 1},
                            {"payload", {{"source", clips().long_hd.string()}, {"video_id", "slow"}}}});
    const auto found = wharf::test::wait_for_ffmpeg(dir.path(), 60s);
    ASSERT_EQ(found.size(), 1u);
    ::kill(found[0], SIGSTOP);  // it will never finish by itself (and the stall limit is 120 s)
    ASSERT_TRUE(fleet::eventually([&] { return status_of(f, "clip-slow") == "dead"; }, 60s)) << status_of(f, "clip-slow");
    EXPECT_NE(f.job("clip-slow")->error.value_or("").find("timed out"), std::string::npos) << *f.job("clip-slow")->error;
    EXPECT_NE(::kill(found[0], 0), 0);
    EXPECT_EQ(wharf::test::ffmpeg_processes_under(dir.path()), std::vector<pid_t>{});
    EXPECT_EQ(wharf::test::entries_in(dir.path() / "scratch"), 0u);
    EXPECT_EQ(f.count("SELECT count(*) FROM objects"), 0);
}
