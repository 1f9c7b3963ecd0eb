// Content-type allow-lists.
#include "wharf/fetch/content_type.hpp"

#include <gtest/gtest.h>

namespace fetch = wharf::fetch;

TEST(fetch_content_type, media_ranges_are_normalised_or_refused) {
    EXPECT_EQ(fetch::normalize_media_range(" Video/MP4 "), "video/mp4");
    EXPECT_EQ(fetch::normalize_media_range("video/*"), "video/*");
    EXPECT_EQ(fetch::normalize_media_range("application/vnd.apple.mpegurl"), "application/vnd.apple.mpegurl");
    for (const auto* bad : {"", "video", "*/*", "video/", "/mp4", "video/mp4; codecs=avc1", "video/mp 4", "vid\reo/x",
                            "video/*/x", ".video/mp4"}) {
        SCOPED_TRACE(bad);
        EXPECT_FALSE(fetch::normalize_media_range(bad));
    }
}

TEST(fetch_content_type, a_type_is_allowed_by_its_range) {
    const std::vector<std::string> ranges{"video/*", "audio/mp4"};
    EXPECT_TRUE(fetch::media_type_allowed(ranges, "video/mp4"));
    EXPECT_TRUE(fetch::media_type_allowed(ranges, "audio/mp4"));
    EXPECT_FALSE(fetch::media_type_allowed(ranges, "audio/mpeg"));
    EXPECT_FALSE(fetch::media_type_allowed(ranges, "videos/mp4"));
    EXPECT_FALSE(fetch::media_type_allowed(ranges, ""));
    EXPECT_TRUE(fetch::media_type_allowed({}, "text/html"));
}

TEST(fetch_content_type, a_payload_list_may_only_narrow_the_workers) {
    EXPECT_TRUE(fetch::media_ranges_within({"video/mp4"}, {"video/*"}));
    EXPECT_TRUE(fetch::media_ranges_within({"video/*"}, {"video/*", "audio/*"}));
    EXPECT_FALSE(fetch::media_ranges_within({"video/*"}, {"video/mp4"}));
    EXPECT_FALSE(fetch::media_ranges_within({"text/html"}, {"video/*"}));
    EXPECT_TRUE(fetch::media_ranges_within({"text/html"}, {}));
}
