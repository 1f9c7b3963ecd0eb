// The `transcode` job with real ffmpeg, a real PostgreSQL and the local provider: every output
// probed and stored, keyframes aligned across renditions, playlists complete, the ladder's rules
// on real sources, and the failures -- corrupt, truncated and damaged input, a stalled ffmpeg, a
// cancelled job -- each ending the way the contract says, with no ffmpeg and no scratch left.
#include "transcode_harness.hpp"

#include "wharf/media/hls.hpp"
#include "wharf/storage/sha256.hpp"

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include <csignal>
#include <fstream>
#include <set>
#include <sstream>

namespace fs = std::filesystem;
namespace w = wharf::worker;
using nlohmann::json;
using wharf::test::clips;
using wharf::test::transcode_harness;
using namespace std::chrono_literals;

namespace {

std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

const json* artifact(const json& result, const std::string& key) {
    for (const auto& a : result["artifacts"])
        if (a["key"] == key) return &a;
    return nullptr;
}

// Every artifact is in the store with its size and SHA-256, under the prefix, recorded once.
void expect_stored(const transcode_harness& h, const json& result) {
    std::set<std::string> keys;
    for (const auto& a : result["artifacts"]) {
        const std::string key = a["key"];
        EXPECT_TRUE(keys.insert(key).second) << "stored twice: " << key;
        EXPECT_TRUE(key.starts_with(result["output_prefix"].get<std::string>())) << key;
        const fs::path file = h.stored(key);
        ASSERT_TRUE(fs::is_regular_file(file)) << key;
        EXPECT_EQ(fs::file_size(file), a["size"].get<std::uint64_t>()) << key;
        EXPECT_EQ(wharf::storage::sha256_file_hex(file), a["sha256"]) << key;
        EXPECT_EQ(a["provider"], "local");
    }
    pqxx::connection c(h.url);
    pqxx::nontransaction tx(c);
    EXPECT_EQ(tx.exec1("SELECT count(*) FROM objects WHERE deleted_at IS NULL")[0].as<std::size_t>(), keys.size());
}

double duration_of(const fs::path& file) { return std::stod(wharf::test::ffprobe(file)["format"]["duration"].get<std::string>()); }

// The segment durations a media playlist lists, each of its files present.
std::vector<double> segments_of(const fs::path& playlist) {
    std::vector<double> out;
    std::istringstream lines(read(playlist));
    for (std::string line; std::getline(lines, line);) {
        if (line.starts_with("#EXTINF:")) {
            out.push_back(std::stod(line.substr(8)));
        } else if (line.starts_with("#EXT-X-MAP:URI=\"")) {
            EXPECT_TRUE(fs::is_regular_file(playlist.parent_path() / line.substr(16, line.size() - 17))) << line;
        } else if (!line.empty() && line[0] != '#') {
            EXPECT_TRUE(fs::is_regular_file(playlist.parent_path() / line)) << line;
        }
    }
    return out;
}

std::vector<std::string> master_uris(const fs::path& master) {
    std::vector<std::string> out;
    std::istringstream lines(read(master));
    for (std::string line; std::getline(lines, line);)
        if (!line.empty() && line[0] != '#') out.push_back(line);
    return out;
}

void expect_no_ffmpeg_and_no_scratch(const transcode_harness& h) {
    EXPECT_EQ(wharf::test::ffmpeg_processes_under(h.dir.path()), std::vector<pid_t>{});
    EXPECT_EQ(wharf::test::ffmpeg_processes_under(clips().dir), std::vector<pid_t>{});
    EXPECT_EQ(h.scratch_entries(), 0u);
}

}  // namespace

TEST(transcode_job, a_1080p_clip_becomes_the_default_ladder_with_hls_audio_thumbnails_and_metadata) {
    transcode_harness h;
    const json result = h.run({{"source", clips().hd.string()}, {"video_id", "v1"}, {"api_key", "tenant-1"}});
    expect_stored(h, result);
    EXPECT_EQ(result["output_prefix"], "processed/v1/");
    EXPECT_NEAR(result["duration"].get<double>(), 2.5, 0.01);
    EXPECT_EQ(result["skipped"], json::array());

    // Renditions: H.264 + AAC at the planned sizes, durations within 1 % of the input.
    const auto& renditions = result["renditions"];
    ASSERT_EQ(renditions.size(), 2u);
    const std::pair<int, int> sizes[] = {{640, 360}, {1280, 720}};
    std::vector<std::vector<double>> keyframes, segments;
    for (std::size_t i = 0; i < 2; ++i) {
        const auto& r = renditions[i];
        const std::string name = r["name"];
        EXPECT_EQ(name, i == 0 ? "360p" : "720p");
        EXPECT_EQ(r["mp4_key"], "processed/v1/" + name + "/video_" + name + ".mp4");
        EXPECT_EQ(r["playlist_key"], "processed/v1/" + name + "/segments/playlist.m3u8");
        EXPECT_EQ(r["width"], sizes[i].first);
        EXPECT_EQ(r["height"], sizes[i].second);
        EXPECT_GT(r["bandwidth"].get<std::int64_t>(), 0);
        EXPECT_GE(r["bandwidth"].get<std::int64_t>(), r["average_bandwidth"].get<std::int64_t>());
        EXPECT_EQ(r["codecs"].get<std::string>().substr(0, 5), "avc1.");
        EXPECT_NE(r["codecs"].get<std::string>().find(",mp4a.40.2"), std::string::npos);
        EXPECT_DOUBLE_EQ(r["frame_rate"].get<double>(), 30.0);

        const fs::path mp4 = h.stored(r["mp4_key"]);
        const json probe = wharf::test::ffprobe(mp4);
        ASSERT_EQ(probe["streams"].size(), 2u);
        EXPECT_EQ(probe["streams"][0]["codec_name"], "h264");
        EXPECT_EQ(probe["streams"][0]["width"], sizes[i].first);
        EXPECT_EQ(probe["streams"][0]["height"], sizes[i].second);
        EXPECT_EQ(probe["streams"][1]["codec_name"], "aac");
        EXPECT_NEAR(duration_of(mp4), 2.5, 0.025 + 0.05);  // 1 %, or two AAC packets on a clip this short
        const std::string bytes = read(mp4);
        EXPECT_LT(bytes.find("moov"), bytes.find("mdat")) << "+faststart: the index before the media";
        keyframes.push_back(wharf::test::keyframe_times(mp4));
        segments.push_back(segments_of(h.stored(r["playlist_key"])));
    }
    // Keyframes every 2 s at the same times in every rendition, and the same segments.
    EXPECT_EQ(keyframes[0], (std::vector<double>{0.0, 2.0}));
    EXPECT_EQ(keyframes[0], keyframes[1]);
    EXPECT_EQ(segments[0], segments[1]);
    double total = 0;
    for (double d : segments[0]) total += d;
    EXPECT_NEAR(total, 2.5, 0.04);
    // fMP4: an init segment per rendition.
    EXPECT_TRUE(artifact(result, "processed/v1/360p/segments/init.mp4"));

    // The master lists every rendition, by relative URIs that resolve to the stored playlists.
    ASSERT_EQ(result["master_playlist_key"], "processed/v1/hls/master.m3u8");
    const fs::path master = h.stored("processed/v1/hls/master.m3u8");
    const auto uris = master_uris(master);
    EXPECT_EQ(uris, (std::vector<std::string>{"../360p/segments/playlist.m3u8", "../720p/segments/playlist.m3u8"}));
    for (const auto& uri : uris) EXPECT_TRUE(fs::is_regular_file(master.parent_path() / uri)) << uri;
    const std::string text = read(master);
    EXPECT_NE(text.find("RESOLUTION=1280x720"), std::string::npos) << text;
    EXPECT_NE(text.find("AVERAGE-BANDWIDTH="), std::string::npos);
    EXPECT_NE(text.find("FRAME-RATE=30.000"), std::string::npos);
    // ffmpeg itself reads the master and every segment it leads to.
    const auto play = wharf::test::run({"ffmpeg", "-v", "error", "-i", master.string(), "-map", "0:v:0", "-f", "null", "-"});
    EXPECT_EQ(play.status, 0) << play.output;

    // Audio, thumbnails, metadata.
    ASSERT_EQ(result["audio_key"], "processed/v1/audio/audio.mp3");
    const json mp3 = wharf::test::ffprobe(h.stored(result["audio_key"]));
    EXPECT_EQ(mp3["streams"][0]["codec_name"], "mp3");
    const auto& t = result["thumbnails"];
    EXPECT_EQ(t["poster_key"], "processed/v1/thumbnails/poster.jpg");
    const json poster = wharf::test::ffprobe(h.stored(t["poster_key"]));
    EXPECT_EQ(poster["streams"][0]["width"], 1280);
    const json sprite = wharf::test::ffprobe(h.stored(t["sprite_key"]));
    EXPECT_EQ(sprite["streams"][0]["width"], t["tile_width"].get<int>() * t["columns"].get<int>());
    EXPECT_EQ(sprite["streams"][0]["height"], t["tile_height"].get<int>() * t["rows"].get<int>());
    const std::string vtt = read(h.stored(t["vtt_key"]));
    EXPECT_TRUE(vtt.starts_with("WEBVTT\n")) << vtt;
    EXPECT_NE(vtt.find("sprite.jpg#xywh=0,0,160,90"), std::string::npos) << vtt;
    const json metadata = json::parse(read(h.stored(result["metadata_key"])));
    EXPECT_EQ(metadata["ffprobe"]["streams"].size(), 2u);
    EXPECT_EQ(metadata["ffprobe"]["format"]["filename"], "hd.mp4");  // not the worker's path
    EXPECT_EQ(metadata["wharf"]["video"]["display_width"], 1920);
    EXPECT_EQ(metadata["wharf"]["renditions"].size(), 2u);
    EXPECT_EQ(result["metadata"]["video"]["width"], 1920);

    // Presigned URLs for what a player or a page fetches, none per segment.
    EXPECT_TRUE(artifact(result, "processed/v1/hls/master.m3u8")->contains("presigned_url"));
    EXPECT_FALSE(artifact(result, "processed/v1/720p/segments/segment_00000.m4s")->contains("presigned_url"));

    // Progress went through the encode to 100 %, then the store.
    double last_percent = -1;
    bool stored = false;
    for (const auto& p : h.progress) {
        if (p["phase"] == "encode") last_percent = p["percent"];
        if (p["phase"] == "store" && p["done"] == p["total"]) stored = true;
    }
    EXPECT_DOUBLE_EQ(last_percent, 100.0);
    EXPECT_TRUE(stored);
    expect_no_ffmpeg_and_no_scratch(h);
}

TEST(transcode_job, finished_segments_are_stored_while_ffmpeg_encodes_the_rest) {
    auto settings = wharf::test::test_transcode_settings();
    settings.segment_poll = 100ms;
    transcode_harness h(settings);
    // 8 s in 2 s segments: 4 per rendition, each but the last finished while ffmpeg still runs.
    const json result = h.run({{"source", clips().long_hd.string()}, {"video_id", "v1"}, {"segment_seconds", 2}});
    expect_stored(h, result);  // each once, with the bytes and SHA-256 recorded, one catalog row each
    const auto early = result["stored_while_encoding"].get<std::size_t>();
    EXPECT_GE(early, 1u);
    EXPECT_LE(early, 6u);  // never a rendition's last segment: it is only known finished at the end
    std::size_t segments = 0;
    for (const auto& a : result["artifacts"]) segments += a["kind"] == "segment";
    EXPECT_EQ(segments, 8u);
    for (const char* phase : {"fetch", "probe", "encode", "verify", "store"})
        EXPECT_GE(result["timings"][phase].get<double>(), 0.0) << phase;
    // Players read what was stored early like the rest.
    const auto play = wharf::test::run({"ffmpeg", "-v", "error", "-i", h.stored("processed/v1/hls/master.m3u8").string(),
                                        "-map", "0:v:0", "-f", "null", "-"});
    EXPECT_EQ(play.status, 0) << play.output;

    // Switched off: nothing before the encode ends, the same outputs.
    settings.store_while_encoding = false;
    transcode_harness off(settings);
    const json later = off.run({{"source", clips().long_hd.string()}, {"video_id", "v1"}, {"segment_seconds", 2}});
    expect_stored(off, later);
    EXPECT_EQ(later["stored_while_encoding"], 0);
    EXPECT_EQ(later["artifacts"].size(), result["artifacts"].size());
    expect_no_ffmpeg_and_no_scratch(h);
}

TEST(transcode_job, a_480p_source_gets_no_720p_but_its_own_size) {
    transcode_harness h;
    const json result = h.run({{"source", clips().sd.string()}, {"video_id", "sd"}, {"thumbnails", false}});
    expect_stored(h, result);
    const auto& r = result["renditions"];
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0]["name"], "360p");
    EXPECT_EQ(r[1]["name"], "480p");
    EXPECT_EQ(r[1]["rung"], "720p");
    EXPECT_EQ(r[1]["width"], 854);
    EXPECT_EQ(r[1]["height"], 480);
    EXPECT_FALSE(fs::exists(h.stored("processed/sd/720p")));
    const json probe = wharf::test::ffprobe(h.stored("processed/sd/480p/video_480p.mp4"));
    EXPECT_EQ(probe["streams"][0]["height"], 480);
    EXPECT_EQ(master_uris(h.stored("processed/sd/hls/master.m3u8")),
              (std::vector<std::string>{"../360p/segments/playlist.m3u8", "../480p/segments/playlist.m3u8"}));
    EXPECT_FALSE(result.contains("thumbnails"));
    expect_no_ffmpeg_and_no_scratch(h);
}

TEST(transcode_job, portrait_renditions_keep_the_short_side) {
    transcode_harness h;
    const json result = h.run({{"source", clips().portrait.string()}, {"video_id", "tall"}, {"audio", false}});
    expect_stored(h, result);
    const auto& r = result["renditions"];
    ASSERT_EQ(r.size(), 2u);
    const json p360 = wharf::test::ffprobe(h.stored(r[0]["mp4_key"]));
    EXPECT_EQ(p360["streams"][0]["width"], 360);
    EXPECT_EQ(p360["streams"][0]["height"], 640);
    const json p720 = wharf::test::ffprobe(h.stored(r[1]["mp4_key"]));
    EXPECT_EQ(p720["streams"][0]["width"], 720);
    EXPECT_EQ(p720["streams"][0]["height"], 1280);
    EXPECT_EQ(result["thumbnails"]["tile_width"], 90);
    EXPECT_EQ(result["thumbnails"]["tile_height"], 160);
    EXPECT_FALSE(result.contains("audio_key"));
    EXPECT_EQ(result["metadata"]["video"]["orientation"], "portrait");
}

TEST(transcode_job, an_odd_sized_4_4_4_source_without_audio) {
    transcode_harness h;
    const json result = h.run({{"source", clips().odd.string()}, {"video_id", "odd"}, {"hls_format", "ts"}});
    expect_stored(h, result);
    const auto& r = result["renditions"];
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[1]["name"], "478p");
    EXPECT_EQ(r[1]["width"], 852);
    EXPECT_EQ(r[1]["height"], 478);
    EXPECT_EQ(r[0]["codecs"].get<std::string>().find("mp4a"), std::string::npos);  // no audio
    const json probe = wharf::test::ffprobe(h.stored(r[1]["mp4_key"]));
    EXPECT_EQ(probe["streams"].size(), 1u);
    EXPECT_EQ(probe["streams"][0]["pix_fmt"], "yuv420p");
    EXPECT_TRUE(artifact(result, "processed/odd/478p/segments/segment_00000.ts"));
    EXPECT_FALSE(artifact(result, "processed/odd/478p/segments/init.mp4"));
    EXPECT_FALSE(result.contains("audio_key"));  // asked for, but there is no audio
}

TEST(transcode_job, an_audio_only_source_gets_mp3_and_an_audio_hls_rendition) {
    transcode_harness h;
    const json result = h.run({{"source", clips().audio.string()}, {"video_id", "song"}});
    expect_stored(h, result);
    ASSERT_EQ(result["renditions"].size(), 1u);
    const auto& r = result["renditions"][0];
    EXPECT_EQ(r["name"], "audio");
    EXPECT_EQ(r["codecs"], "mp4a.40.2");
    EXPECT_FALSE(r.contains("width"));
    const json mp3 = wharf::test::ffprobe(h.stored(result["audio_key"]));
    EXPECT_EQ(mp3["streams"][0]["codec_name"], "mp3");
    EXPECT_NEAR(std::stod(mp3["format"]["duration"].get<std::string>()), 3.0, 0.1);
    const std::string master = read(h.stored(result["master_playlist_key"]));
    EXPECT_NE(master.find("CODECS=\"mp4a.40.2\"\n../audio/segments/playlist.m3u8\n"), std::string::npos) << master;
    EXPECT_EQ(master.find("RESOLUTION"), std::string::npos);
    EXPECT_FALSE(result.contains("thumbnails"));
    EXPECT_FALSE(result["metadata"]["has_video"].get<bool>());

    // An audio-only source for a named rendition (a fan-out part) is refused.
    try {
        h.run({{"source", clips().audio.string()}, {"video_id", "song2"}, {"renditions", {"360p"}}});
        FAIL() << "an audio-only source made a 360p rendition";
    } catch (const w::permanent_error& e) {
        EXPECT_NE(std::string(e.what()).find("no video stream"), std::string::npos) << e.what();
    }
}

TEST(transcode_job, a_fan_out_part_makes_its_rendition_and_no_master) {
    transcode_harness h;
    const json result = h.run({{"source", clips().hd.string()},
                               {"video_id", "p1"},
                               {"output_prefix", "temp/pipe-1/"},
                               {"renditions", {"720p"}},
                               {"audio", false},
                               {"thumbnails", false},
                               {"metadata", false},
                               {"master", false}});
    expect_stored(h, result);
    ASSERT_EQ(result["renditions"].size(), 1u);
    EXPECT_EQ(result["renditions"][0]["playlist_key"], "temp/pipe-1/720p/segments/playlist.m3u8");
    EXPECT_FALSE(result.contains("master_playlist_key"));
    EXPECT_FALSE(result.contains("metadata_key"));
    // What a join needs to write the master is in the result.
    const auto v = wharf::media::variant_from_result(result["renditions"][0], "processed/p1/hls/master.m3u8");
    ASSERT_TRUE(v);
    EXPECT_EQ(v->uri, "../../../temp/pipe-1/720p/segments/playlist.m3u8");
    EXPECT_EQ(v->width, 1280);
    pqxx::connection c(h.url);
    pqxx::nontransaction tx(c);
    EXPECT_EQ(tx.exec1("SELECT count(*) FROM objects WHERE prefix_class = 'temp'")[0].as<std::size_t>(),
              result["artifacts"].size());

    // A part for a rung the source is too small for makes nothing, and says why.
    auto settings = wharf::test::test_transcode_settings();
    settings.ladder = wharf::media::parse_ladder("360p=800k,720p=2800k,1080p=5M").value();
    transcode_harness h2(settings);
    const json none = h2.run({{"source", clips().sd.string()},
                              {"video_id", "p2"},
                              {"renditions", {"1080p"}},
                              {"audio", false},
                              {"thumbnails", false},
                              {"metadata", false}});
    EXPECT_EQ(none["renditions"], json::array());
    EXPECT_EQ(none["artifacts"], json::array());
    ASSERT_EQ(none["skipped"].size(), 1u);
    EXPECT_EQ(none["skipped"][0]["rung"], "1080p");
    EXPECT_EQ(none["skipped"][0]["reason"], "the source is 854x480: 1080p would be upscaled");
}

TEST(transcode_job, a_stored_source_is_fetched_and_its_sha256_checked) {
    transcode_harness h;
    const json up = h.run({{"source", clips().sd.string()}, {"video_id", "x"}, {"hls", false}, {"thumbnails", false},
                           {"metadata", false}, {"audio", true}});
    // The stored MP3 of that job, as a source of its own.
    const std::string key = up["audio_key"];
    const std::string sha = artifact(up, key)->at("sha256");
    const json r = h.run({{"source", {{"provider", "local"}, {"key", key}, {"sha256", sha}}}, {"video_id", "y"}});
    EXPECT_EQ(r["renditions"][0]["name"], "audio");
    try {
        h.run({{"source", {{"provider", "local"}, {"key", key}, {"sha256", std::string(64, '0')}}}, {"video_id", "z"}});
        FAIL() << "a wrong sha256 was accepted";
    } catch (const w::permanent_error& e) {
        EXPECT_NE(std::string(e.what()).find("the payload says 0000"), std::string::npos) << e.what();
    }
    expect_no_ffmpeg_and_no_scratch(h);
}

TEST(transcode_job, corrupt_input_fails_permanently_with_ffprobes_reason) {
    transcode_harness h;
    try {
        h.run({{"source", clips().garbage.string()}, {"video_id", "bad"}});
        FAIL() << "garbage was transcoded";
    } catch (const w::permanent_error& e) {
        EXPECT_NE(std::string(e.what()).find("Invalid data found when processing input"), std::string::npos) << e.what();
    }
    expect_no_ffmpeg_and_no_scratch(h);
}

TEST(transcode_job, a_truncated_file_is_never_a_success) {
    transcode_harness h;
    try {
        h.run({{"source", clips().truncated.string()}, {"video_id", "cut"}});
        FAIL() << "a truncated file was transcoded";
    } catch (const w::permanent_error& e) {
        // ffmpeg decodes what is there and exits 0; the outputs are then too short.
        EXPECT_NE(std::string(e.what()).find("does not match the input"), std::string::npos) << e.what();
    }
    pqxx::connection c(h.url);
    pqxx::nontransaction tx(c);
    EXPECT_EQ(tx.exec1("SELECT count(*) FROM objects")[0].as<int>(), 0);
    expect_no_ffmpeg_and_no_scratch(h);
}

TEST(transcode_job, damaged_picture_data_is_concealed_unless_strict) {
    transcode_harness h;
    const json lenient = h.run({{"source", clips().damaged.string()}, {"video_id", "dmg"}, {"thumbnails", false}});
    EXPECT_EQ(lenient["renditions"].size(), 2u);
    try {
        h.run({{"source", clips().damaged.string()}, {"video_id", "dmg2"}, {"strict", true}});
        FAIL() << "strict mode accepted damaged input";
    } catch (const w::permanent_error& e) {
        EXPECT_NE(std::string(e.what()).find("the source cannot be transcoded: ffmpeg exit code"), std::string::npos)
            << e.what();
        EXPECT_NE(std::string(e.what()).find("[h264 @"), std::string::npos) << e.what();  // ffmpeg's own words
    }
    expect_no_ffmpeg_and_no_scratch(h);
}

TEST(transcode_job, a_stopped_ffmpeg_is_detected_as_stalled_and_retried) {
    auto settings = wharf::test::test_transcode_settings();
    settings.stall_timeout = 1s;
    transcode_harness h(settings);
    std::vector<pid_t> stopped;
    try {
        h.run({{"source", clips().long_hd.string()}, {"video_id", "stall"}}, [&](const auto&) {
            if (!stopped.empty()) return;
            stopped = wharf::test::ffmpeg_processes_under(h.dir.path());
            for (pid_t p : stopped) ::kill(p, SIGSTOP);
        });
        FAIL() << "a stopped ffmpeg finished";
    } catch (const w::permanent_error& e) {
        FAIL() << "a stall is not permanent: " << e.what();
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("ffmpeg made no progress and was stopped"), std::string::npos) << e.what();
    }
    EXPECT_EQ(stopped.size(), 1u);
    for (pid_t p : stopped) EXPECT_NE(::kill(p, 0), 0) << "ffmpeg " << p << " is still there";
    expect_no_ffmpeg_and_no_scratch(h);
}

TEST(transcode_job, cancellation_stops_ffmpegs_group_before_the_job_ends) {
    transcode_harness h;
    std::vector<pid_t> running;
    try {
        h.run({{"source", clips().long_hd.string()}, {"video_id", "cancel"}}, [&](const auto& cancel) {
            if (!running.empty()) return;
            running = wharf::test::ffmpeg_processes_under(h.dir.path());
            if (!running.empty()) cancel();
        });
        FAIL() << "not cancelled";
    } catch (const boost::system::system_error& e) {
        EXPECT_EQ(e.code(), boost::asio::error::operation_aborted);
    }
    ASSERT_EQ(running.size(), 1u);
    // Checked the moment the job ended: the process is gone, not only signalled.
    EXPECT_NE(::kill(running[0], 0), 0);
    expect_no_ffmpeg_and_no_scratch(h);
    pqxx::connection c(h.url);
    pqxx::nontransaction tx(c);
    EXPECT_EQ(tx.exec1("SELECT count(*) FROM objects")[0].as<int>(), 0);
}

TEST(transcode_job, sources_it_may_not_read_are_permanent_errors) {
    // The payload rules themselves: tests/unit/transcode.
    transcode_harness h;
    const std::pair<json, std::string> cases[] = {
        {{{"source", "/etc/hostname"}, {"video_id", "v"}}, "outside local_source_roots"},
        {{{"source", {{"provider", "nowhere"}, {"key", "videos/a/b.mp4"}}}, {"video_id", "v"}}, "unknown storage provider"},
        {{{"source", {{"provider", "local"}, {"key", "videos/a/none.mp4"}}}, {"video_id", "v"}}, "downloading the source"},
        {{{"source", clips().hd.string()}, {"video_id", "v"}, {"renditions", {"240p"}}}, "not in the ladder"},
    };
    for (const auto& [payload, why] : cases) {
        try {
            h.run(payload);
            ADD_FAILURE() << "accepted: " << payload.dump();
        } catch (const w::permanent_error& e) {
            EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << payload.dump() << ": " << e.what();
        }
    }
    expect_no_ffmpeg_and_no_scratch(h);
}
