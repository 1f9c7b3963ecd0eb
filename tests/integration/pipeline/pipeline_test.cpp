// Pipelines end to end with real servers (redis-server, PostgreSQL, moto, nginx) and real
// wharf-worker processes: one runs pipeline, download and publish, another (its own scratch
// folder) runs transcode, so the steps can only hand over through storage.
#include "fleet.hpp"
#include "wharf/test/clips.hpp"
#include "wharf/test/moto_server.hpp"
#include "wharf/test/nginx_server.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>

namespace fs = std::filesystem;
using nlohmann::json;
using wharf::test::clips;
using wharf::test::fleet;
using wharf::test::status_of;
using namespace std::chrono_literals;

namespace {

class pipeline : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        moto = new wharf::test::moto_server();
        moto->create_bucket("media");
        web = new wharf::test::nginx_server({.servers = "server { listen 127.0.0.1:@PORT0@; root @ROOT@; }"});
        fs::create_directories(web->root() / "in");
        fs::copy_file(clips().hd, web->root() / "in" / "clip.mp4");
        fs::copy_file(clips().long_hd, web->root() / "in" / "long.mp4");
        fs::copy_file(clips().garbage, web->root() / "in" / "garbage.mp4");
    }
    static void TearDownTestSuite() {
        delete web;
        delete moto;
    }
    void TearDown() override {
        if (HasFailure()) f.dump_logs();
    }

    std::vector<std::string> common_flags(const std::string& scratch) {
        const json providers = {{"providers",
                                 {{{"name", "moto"},
                                   {"kind", "s3"},
                                   {"profile", "generic"},
                                   {"endpoint", moto->endpoint()},
                                   {"region", "us-east-1"},
                                   {"bucket", "media"},
                                   {"access_key_id", "testing"},
                                   {"secret_access_key", "testing"},
                                   {"limit", "10GiB"}}}}};
        return {"--lease", "3s", "--sweep", "200ms", "--storage-providers", providers.dump(),
                "--scratch-dir", (dir.path() / scratch).string()};
    }
    // Worker A: submissions, downloads and publishing. Worker B: transcodes only.
    void start_fleet() {
        auto a = common_flags("scratch-a");
        a.insert(a.end(), {"--queues", "pipeline=2,download=2,publish=2", "--download-allow",
                           "127.0.0.1/32:" + std::to_string(web->port())});
        f.start_worker(a);
        f.start_worker(transcode_flags());
    }
    std::vector<std::string> transcode_flags() {
        auto b = common_flags("scratch-b");
        b.insert(b.end(), {"--queues", "transcode=1", "--transcode-preset", "ultrafast", "--transcode-threads", "1"});
        return b;
    }

    json submit(const std::string& id, const std::string& path, std::vector<std::string> extra = {}) {
        std::vector<std::string> args{"pipeline", "submit", "--source", web->url(path), "--id", id, "--json"};
        args.insert(args.end(), extra.begin(), extra.end());
        const auto r = f.ctl(args);
        EXPECT_EQ(r.status, 0) << r.output;
        return json::parse(r.output.substr(r.output.find('{')));
    }
    bool final_pipeline(const std::string& id) {
        const auto s = status_of(f, id);
        return s == "succeeded" || s == "failed" || s == "cancelled" || s == "dead";
    }
    json result_of(const std::string& id) { return json::parse(f.job(id)->result.value_or("null")); }
    std::int64_t temp_objects(const std::string& id) {
        return f.count("SELECT count(*) FROM objects WHERE deleted_at IS NULL AND key LIKE 'temp/" + id + "/%'");
    }
    std::int64_t temp_at_moto(const std::string& id) {
        const auto listed = moto->list_objects("media");
        return std::count_if(listed.begin(), listed.end(),
                             [&](const auto& o) { return o.key.starts_with("temp/" + id + "/"); });
    }

    static wharf::test::moto_server* moto;
    static wharf::test::nginx_server* web;
    fleet f;
    wharf::test::temp_dir dir{"wharf-pipeline"};
};

wharf::test::moto_server* pipeline::moto = nullptr;
wharf::test::nginx_server* pipeline::web = nullptr;

}  // namespace

TEST_F(pipeline, a_url_becomes_published_renditions_whose_presigned_master_playlist_plays) {
    start_fleet();
    submit("clip-1", "/in/clip.mp4", {"--api-key", "tenant-1"});
    ASSERT_TRUE(fleet::eventually([&] { return final_pipeline("clip-1"); }, 180s)) << status_of(f, "clip-1");
    ASSERT_EQ(status_of(f, "clip-1"), "succeeded") << f.job("clip-1")->error.value_or("");

    // Each step ran once, as a job of its own queue, and transcode ran on the other worker.
    for (const auto& [queue, id] : std::vector<std::pair<std::string, std::string>>{
             {"download", "clip-1:ingest"}, {"transcode", "clip-1:transcode"}, {"publish", "clip-1:publish"}}) {
        const auto row = f.job(id);
        ASSERT_TRUE(row) << id;
        EXPECT_EQ(row->queue, queue);
        EXPECT_EQ(row->status, "succeeded") << id;
        EXPECT_EQ(row->attempts, 1) << id;
    }

    const json result = result_of("clip-1");
    EXPECT_EQ(result["duplicate"], false);
    const auto& artifacts = result["artifacts"];
    for (const char* name : {"360p", "720p", "audio", "hls_360p", "hls_720p", "hls_master", "hls_master_relative",
                             "thumbnails", "metadata", "original"})
        EXPECT_TRUE(artifacts.contains(name)) << name << " missing from " << artifacts.dump();
    EXPECT_EQ(artifacts["original"]["key"], "processed/clip-1/raw/video_original.mp4");
    EXPECT_EQ(artifacts["720p"]["key"], "processed/clip-1/720p/video_720p.mp4");

    // ffprobe opens the master playlist through its presigned URL and finds every rendition: the
    // bucket is private (moto refuses unsigned reads), so every URI in it and in the rendition
    // playlists is presigned too.
    const auto probe = wharf::test::run({"ffprobe", "-v", "error", "-of", "json", "-show_streams",
                                         artifacts["hls_master"]["presigned_url"].get<std::string>()},
                                        {}, 60s);
    ASSERT_EQ(probe.status, 0) << probe.output;
    const json streams = json::parse(probe.output)["streams"];
    std::vector<int> heights;
    for (const auto& s : streams)
        if (s.value("codec_type", "") == "video") heights.push_back(s.value("height", 0));
    std::sort(heights.begin(), heights.end());
    heights.erase(std::unique(heights.begin(), heights.end()), heights.end());
    EXPECT_EQ(heights, (std::vector<int>{360, 720})) << probe.output;

    // Nothing left under temp/, at moto or in the catalog; the tenant is charged for what is kept.
    EXPECT_EQ(temp_objects("clip-1"), 0);
    EXPECT_EQ(temp_at_moto("clip-1"), 0);
    EXPECT_EQ(f.count("SELECT count(*) FROM objects WHERE deleted_at IS NULL AND key LIKE 'processed/clip-1/%' "
                      "AND api_key = 'tenant-1'"),
              f.count("SELECT count(*) FROM objects WHERE deleted_at IS NULL"));
    EXPECT_EQ(f.count("SELECT used_bytes FROM api_keys WHERE api_key = 'tenant-1'"),
              f.count("SELECT sum(size) FROM objects WHERE deleted_at IS NULL"));
    EXPECT_EQ(f.count("SELECT total_bytes FROM storage_stats WHERE provider = 'moto'"),
              f.count("SELECT sum(size) FROM objects WHERE deleted_at IS NULL"));

    // wharfctl status shows the steps.
    const auto st = f.ctl({"status", "clip-1", "--json"});
    ASSERT_EQ(st.status, 0) << st.output;
    const json status = json::parse(st.output);
    ASSERT_EQ(status["steps"].size(), 3u);
    for (const auto& s : status["steps"]) EXPECT_EQ(s["status"], "succeeded") << s.dump();

    // The same bytes again, for the same tenant: finished early, nothing transcoded twice.
    submit("clip-2", "/in/clip.mp4", {"--api-key", "tenant-1"});
    ASSERT_TRUE(fleet::eventually([&] { return final_pipeline("clip-2"); }, 60s)) << status_of(f, "clip-2");
    ASSERT_EQ(status_of(f, "clip-2"), "succeeded") << f.job("clip-2")->error.value_or("");
    const json dup = result_of("clip-2");
    EXPECT_EQ(dup["duplicate"], true);
    EXPECT_EQ(dup["original_pipeline"], "clip-1");
    EXPECT_EQ(dup["artifacts"]["720p"]["key"], "processed/clip-1/720p/video_720p.mp4");
    EXPECT_FALSE(f.job("clip-2:transcode"));
    EXPECT_TRUE(fleet::eventually([&] { return status_of(f, "clip-2:discard") == "succeeded"; }, 30s));
    EXPECT_EQ(temp_objects("clip-2"), 0);
    EXPECT_EQ(temp_at_moto("clip-2"), 0);

    // Another tenant's copy is not a duplicate of it.
    submit("clip-3", "/in/clip.mp4", {"--api-key", "tenant-2", "--renditions", "360p"});
    ASSERT_TRUE(fleet::eventually([&] { return final_pipeline("clip-3"); }, 180s)) << status_of(f, "clip-3");
    ASSERT_EQ(status_of(f, "clip-3"), "succeeded") << f.job("clip-3")->error.value_or("");
    EXPECT_EQ(result_of("clip-3")["duplicate"], false);
    EXPECT_TRUE(result_of("clip-3")["artifacts"].contains("360p"));
    EXPECT_FALSE(result_of("clip-3")["artifacts"].contains("720p"));
    EXPECT_EQ(f.job("clip-3:transcode")->status, "succeeded");
}

TEST_F(pipeline, a_failing_step_fails_the_pipeline_naming_it_and_leaves_no_temp_objects) {
    start_fleet();
    submit("bad-1", "/in/garbage.mp4");
    ASSERT_TRUE(fleet::eventually([&] { return final_pipeline("bad-1"); }, 120s)) << status_of(f, "bad-1");
    const auto row = f.job("bad-1");
    EXPECT_EQ(row->status, "failed");
    EXPECT_NE(row->error.value_or("").find("step transcode"), std::string::npos) << row->error.value_or("");
    EXPECT_TRUE(fleet::eventually([&] { return status_of(f, "bad-1:discard") == "succeeded"; }, 30s));
    EXPECT_EQ(temp_objects("bad-1"), 0);
    EXPECT_EQ(temp_at_moto("bad-1"), 0);
    EXPECT_FALSE(f.job("bad-1:publish"));
    // A URL that is not there fails at the first step.
    submit("bad-2", "/in/nothing.mp4");
    ASSERT_TRUE(fleet::eventually([&] { return final_pipeline("bad-2"); }, 60s)) << status_of(f, "bad-2");
    EXPECT_EQ(status_of(f, "bad-2"), "failed");
    EXPECT_NE(f.job("bad-2")->error.value_or("").find("step ingest"), std::string::npos);
}

TEST_F(pipeline, a_cancel_mid_transcode_stops_ffmpeg_and_cleans_up) {
    start_fleet();
    submit("long-1", "/in/long.mp4");
    const auto found = wharf::test::wait_for_ffmpeg(dir.path(), 120s);
    ASSERT_EQ(found.size(), 1u);
    ::kill(found[0], SIGSTOP);  // holds it mid-transcode
    const auto r = f.ctl({"cancel", "long-1"});
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("long-1:transcode"), std::string::npos) << r.output;
    EXPECT_EQ(status_of(f, "long-1"), "cancelled");
    ASSERT_TRUE(fleet::eventually([&] { return status_of(f, "long-1:transcode") == "cancelled"; }, 30s))
        << status_of(f, "long-1:transcode");
    EXPECT_TRUE(fleet::eventually([&] { return wharf::test::ffmpeg_processes_under(dir.path()).empty(); }, 15s));
    EXPECT_TRUE(fleet::eventually([&] { return status_of(f, "long-1:discard") == "succeeded"; }, 30s));
    EXPECT_EQ(temp_objects("long-1"), 0);
    EXPECT_EQ(temp_at_moto("long-1"), 0);
    EXPECT_FALSE(f.job("long-1:publish"));
    EXPECT_EQ(status_of(f, "long-1"), "cancelled");
}

TEST_F(pipeline, fan_out_runs_one_transcode_per_rendition_and_publishes_one_master) {
    auto a = common_flags("scratch-a");
    a.insert(a.end(), {"--queues", "pipeline=2,download=2,publish=2", "--download-allow",
                       "127.0.0.1/32:" + std::to_string(web->port())});
    f.start_worker(a);
    f.start_worker(transcode_flags());
    f.start_worker(transcode_flags());
    submit("fan-1", "/in/clip.mp4", {"--renditions", "360p,720p", "--fan-out"});
    ASSERT_TRUE(fleet::eventually([&] { return final_pipeline("fan-1"); }, 180s)) << status_of(f, "fan-1");
    ASSERT_EQ(status_of(f, "fan-1"), "succeeded") << f.job("fan-1")->error.value_or("");
    EXPECT_EQ(status_of(f, "fan-1:transcode.360p"), "succeeded");
    EXPECT_EQ(status_of(f, "fan-1:transcode.720p"), "succeeded");
    const json artifacts = result_of("fan-1")["artifacts"];
    for (const char* name : {"360p", "720p", "hls_master", "audio", "thumbnails"})
        EXPECT_TRUE(artifacts.contains(name)) << name << " missing from " << artifacts.dump();
    const auto probe = wharf::test::run({"ffprobe", "-v", "error", "-of", "json", "-show_streams",
                                         artifacts["hls_master"]["presigned_url"].get<std::string>()},
                                        {}, 60s);
    ASSERT_EQ(probe.status, 0) << probe.output;
    const json probed = json::parse(probe.output);
    std::size_t videos = 0;
    for (const auto& s : probed["streams"]) videos += s.value("codec_type", "") == "video";
    EXPECT_EQ(videos, 2u) << probe.output;
    EXPECT_EQ(temp_objects("fan-1"), 0);
}
