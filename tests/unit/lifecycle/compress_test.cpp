// The compression of old jobs, its pure parts: which keys and content types are compressible
// (never media), and the `compress` job's payload.
#include "wharf/lifecycle/compress.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace l = wharf::lifecycle;
using nlohmann::json;

TEST(compress, text_artifacts_are_compressible_media_never) {
    EXPECT_TRUE(l::compressible("processed/v1/metadata.json", std::nullopt));
    EXPECT_TRUE(l::compressible("processed/v1/720p/segments/playlist.M3U8", std::nullopt));
    EXPECT_TRUE(l::compressible("processed/v1/thumbnails/sprite.vtt", std::string("text/vtt")));
    EXPECT_TRUE(l::compressible("transcripts/v1/en.srt", std::nullopt));
    EXPECT_TRUE(l::compressible("logs/job-1", std::string("text/plain; charset=utf-8")));
    EXPECT_TRUE(l::compressible("x/data", std::string("application/vnd.api+json")));
    EXPECT_FALSE(l::compressible("processed/v1/720p/video_720p.mp4", std::nullopt));
    EXPECT_FALSE(l::compressible("processed/v1/audio/audio.mp3", std::string("text/plain")));  // media by key wins
    EXPECT_FALSE(l::compressible("processed/v1/notes.txt", std::string("video/mp4")));         // media by type wins
    EXPECT_FALSE(l::compressible("processed/v1/thumbnails/poster.jpg", std::nullopt));
    EXPECT_FALSE(l::compressible("backups/db/1.dump", std::nullopt));
    EXPECT_FALSE(l::compressible("x/blob", std::string("application/octet-stream")));  // unknown: left alone
    EXPECT_FALSE(l::compressible("x/blob", std::nullopt));
    EXPECT_FALSE(l::compressible("x/archive.tar.gz", std::string("application/json")));
    EXPECT_EQ(l::kind_of_key("a/.json"), l::content_kind::text);
    EXPECT_EQ(l::kind_of_key("a/json"), l::content_kind::unknown);
    EXPECT_EQ(l::kind_of_key("a.b/c"), l::content_kind::unknown);  // the dot is in a folder's name
    EXPECT_EQ(l::kind_of_content_type("Application/JSON ; charset=utf-8"), l::content_kind::text);
}

TEST(compress, payload_fields_are_checked_and_named) {
    l::compress_options defaults;
    defaults.older_than = std::chrono::hours(24 * 30);
    const auto o = l::parse_compress_payload(json::parse(R"({"provider": "s3", "older_than_days": 7, "limit": 5,
                                                             "dry_run": true})"),
                                             defaults);
    EXPECT_EQ(o.provider, "s3");
    EXPECT_EQ(o.older_than, std::chrono::hours(24 * 7));
    EXPECT_EQ(o.limit, 5u);
    EXPECT_TRUE(o.dry_run);
    EXPECT_EQ(l::parse_compress_payload(json::object(), defaults).older_than, std::chrono::hours(24 * 30));
    for (const char* bad : {R"([])", R"({"limit": 0})", R"({"older_than_days": -1})", R"({"dry_run": "yes"})",
                            R"({"provider": ""})", R"({"level": 3})"})
        EXPECT_THROW(l::parse_compress_payload(json::parse(bad), defaults), std::invalid_argument) << bad;
}
