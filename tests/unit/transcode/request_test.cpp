// The `transcode` job's payload and settings, parsed without servers: what is accepted, the
// defaults, and a readable permanent error for each bad field.
#include "jobs/transcode.hpp"

#include <gtest/gtest.h>

using nlohmann::json;
using wharf::worker::parse_transcode_request;
using wharf::worker::permanent_error;
using wharf::worker::transcode_settings;

namespace {

std::string refusal(const json& payload, std::optional<std::string> envelope_key = std::nullopt) {
    try {
        parse_transcode_request(payload, envelope_key, transcode_settings{});
    } catch (const permanent_error& e) {
        return e.what();
    }
    return "accepted";
}

wharf::config settings_config(std::vector<std::string> flags) {
    flags.insert(flags.begin(), "wharf-worker");
    return wharf::config::load(flags, {}, wharf::worker::transcode_option_specs());
}

}  // namespace

TEST(parse_transcode_request, a_local_source_with_the_defaults) {
    const auto r = parse_transcode_request({{"source", "/srv/in/a.mp4"}, {"video_id", "v1"}}, std::nullopt, {});
    EXPECT_EQ(r.source.path, "/srv/in/a.mp4");
    EXPECT_EQ(r.output_prefix, "processed/v1/");
    EXPECT_TRUE(r.hls && r.audio && r.thumbnails && r.metadata);
    EXPECT_FALSE(r.strict);
    EXPECT_TRUE(r.renditions.empty());
    EXPECT_EQ(r.segment_seconds, 0);
    EXPECT_FALSE(r.hls_format);
    EXPECT_EQ(r.presign_expires, std::chrono::seconds(3600));
}

TEST(parse_transcode_request, a_stored_source_for_a_pipeline_part) {
    const auto r = parse_transcode_request({{"source", {{"provider", "s3"}, {"key", "temp/p1/raw.mp4"},
                                                        {"sha256", std::string(64, 'a')}}},
                                            {"video_id", "v1"},
                                            {"output_prefix", "temp/p1/"},
                                            {"renditions", {"720p"}},
                                            {"audio", false},
                                            {"segment_seconds", 6},
                                            {"hls_format", "ts"},
                                            {"strict", true},
                                            {"api_key", "t1"},
                                            {"presign_expires", 60}},
                                           std::string("t1"), {});
    EXPECT_EQ(r.source.provider, "s3");
    EXPECT_EQ(r.source.key, "temp/p1/raw.mp4");
    EXPECT_EQ(r.source_sha256, std::string(64, 'a'));
    EXPECT_EQ(r.output_prefix, "temp/p1/");
    EXPECT_EQ(r.renditions, std::vector<std::string>{"720p"});
    EXPECT_FALSE(r.audio);
    EXPECT_EQ(r.segment_seconds, 6);
    EXPECT_EQ(r.hls_format, wharf::media::hls_format::ts);
    EXPECT_TRUE(r.strict);
    EXPECT_EQ(r.api_key, "t1");
    EXPECT_EQ(r.presign_expires, std::chrono::seconds(60));
}

TEST(parse_transcode_request, bad_fields_are_permanent_with_a_reason) {
    const json src = "/srv/in/a.mp4";
    EXPECT_EQ(refusal(json::array()), "payload must be a JSON object");
    EXPECT_EQ(refusal({{"video_id", "v"}}), "payload.source is required: a local path or {provider, key}");
    EXPECT_EQ(refusal({{"source", src}}), "payload.video_id must be a non-empty string");
    EXPECT_EQ(refusal({{"source", src}, {"video_id", "a/b"}}), "payload.video_id must be at most 128 characters without '/'");
    EXPECT_EQ(refusal({{"source", src}, {"video_id", "v"}, {"output_prefix", "processed/v"}}),
              "payload.output_prefix must end with '/'");
    EXPECT_EQ(refusal({{"source", src}, {"video_id", "v"}, {"output_prefix", "processed/"}}),
              "payload.output_prefix: keys under processed/ follow processed/<id>/<name>");
    EXPECT_EQ(refusal({{"source", {{"provider", "s3"}, {"key", "videos/v/a.mp4"}, {"sha256", "ABC"}}}, {"video_id", "v"}}),
              "payload.source.sha256 must be 64 lowercase hex digits");
    EXPECT_EQ(refusal({{"source", src}, {"video_id", "v"}, {"renditions", json::array()}}),
              "payload.renditions must be a non-empty list of the ladder's renditions");
    EXPECT_EQ(refusal({{"source", src}, {"video_id", "v"}, {"renditions", {1}}}),
              "payload.renditions must hold names like \"720p\"");
    EXPECT_EQ(refusal({{"source", src}, {"video_id", "v"}, {"hls", "yes"}}), "payload.hls must be true or false");
    EXPECT_EQ(refusal({{"source", src}, {"video_id", "v"}, {"segment_seconds", 5}}),
              "payload.segment_seconds: HLS segments of 5 s are not a whole number of keyframe intervals of 2 s");
    EXPECT_EQ(refusal({{"source", src}, {"video_id", "v"}, {"hls_format", "dash"}}),
              "payload.hls_format must be \"fmp4\" or \"ts\"");
    EXPECT_EQ(refusal({{"source", src}, {"video_id", "v"}, {"api_key", "a"}}, std::string("b")),
              "payload.api_key differs from the envelope's api_key");
    EXPECT_EQ(refusal({{"source", src}, {"video_id", "v"}, {"presign_expires", 0}}).find("payload.presign_expires"), 0u);
}

TEST(transcode_settings_from, defaults_and_overrides) {
    const auto d = wharf::worker::transcode_settings_from(settings_config({}));
    EXPECT_EQ(wharf::media::to_string(d.ladder), "360p=800k,720p=2800k");
    EXPECT_EQ(d.encode.preset, "veryfast");
    EXPECT_EQ(d.encode.threads, 0);
    EXPECT_EQ(d.nice, 10);
    EXPECT_EQ(d.stall_timeout, std::chrono::seconds(120));
    EXPECT_EQ(d.kill_grace, std::chrono::seconds(10));
    EXPECT_EQ(d.encode.segment_seconds, 4);
    EXPECT_EQ(d.encode.format, wharf::media::hls_format::fmp4);

    const auto s = wharf::worker::transcode_settings_from(
        settings_config({"--transcode-ladder", "1080p=5M,360p=1M", "--transcode-threads", "2", "--transcode-nice", "0",
                         "--transcode-stall-timeout", "30s", "--transcode-keyframe-seconds", "1",
                         "--transcode-segment-seconds", "6", "--transcode-hls-format", "ts", "--transcode-preset", "fast"}));
    EXPECT_EQ(wharf::media::to_string(s.ladder), "360p=1M,1080p=5M");
    EXPECT_EQ(s.encode.threads, 2);
    EXPECT_EQ(s.nice, 0);
    EXPECT_EQ(s.stall_timeout, std::chrono::seconds(30));
    EXPECT_EQ(s.encode.keyframe_seconds, 1);
    EXPECT_EQ(s.encode.segment_seconds, 6);
    EXPECT_EQ(s.encode.format, wharf::media::hls_format::ts);
    EXPECT_EQ(s.encode.preset, "fast");
}

TEST(transcode_settings_from, bad_settings_are_config_errors) {
    for (const auto& flags : std::vector<std::vector<std::string>>{
             {"--transcode-ladder", "720"},
             {"--transcode-threads", "-1"},
             {"--transcode-nice", "20"},
             {"--transcode-segment-seconds", "5"},
             {"--transcode-keyframe-seconds", "two"},
             {"--transcode-hls-format", "dash"},
             {"--transcode-preset", "warp"},
             {"--transcode-audio-bitrate", "1"},
             {"--transcode-stall-timeout", "1ms"}}) {
        EXPECT_THROW(wharf::worker::transcode_settings_from(settings_config(flags)), wharf::config_error) << flags[0];
    }
}
