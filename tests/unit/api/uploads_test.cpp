// The pure checks of wharf-api's uploads: file names, form booleans, upload ids, media types.
#include "uploads.hpp"

#include <gtest/gtest.h>

using namespace wharf::api;

TEST(api_uploads, file_names_keep_their_last_segment_in_a_plain_alphabet) {
    EXPECT_EQ(sanitize_file_name("clip.mp4"), "clip.mp4");
    EXPECT_EQ(sanitize_file_name("../../etc/passwd"), "passwd");
    EXPECT_EQ(sanitize_file_name("C:\\Users\\me\\My Clip (1).mp4"), "My_Clip__1_.mp4");
    EXPECT_EQ(sanitize_file_name(".."), "file");
    EXPECT_EQ(sanitize_file_name("..."), "file");
    EXPECT_EQ(sanitize_file_name(".hidden"), "hidden");
    EXPECT_EQ(sanitize_file_name(""), "file");
    EXPECT_EQ(sanitize_file_name("dir/"), "file");
    EXPECT_EQ(sanitize_file_name("\xc3\xa9t\xc3\xa9.mov"), "__t__.mov");
    EXPECT_EQ(sanitize_file_name(std::string(500, 'a')).size(), 200u);
}

TEST(api_uploads, form_booleans_ids_and_media_types) {
    EXPECT_EQ(form_bool("true"), true);
    EXPECT_EQ(form_bool("ON"), true);
    EXPECT_EQ(form_bool("0"), false);
    EXPECT_EQ(form_bool("no"), false);
    EXPECT_FALSE(form_bool("maybe"));
    EXPECT_FALSE(form_bool(""));
    EXPECT_TRUE(valid_upload_id("up_0123456789abcdef0123"));
    EXPECT_FALSE(valid_upload_id("up_0123456789ABCDEF0123"));
    EXPECT_FALSE(valid_upload_id("up_0123456789abcdef012"));
    EXPECT_FALSE(valid_upload_id("xx_0123456789abcdef0123"));
    EXPECT_FALSE(valid_upload_id("../0123456789abcdef0123"));
    EXPECT_TRUE(valid_media_type("video/mp4"));
    EXPECT_TRUE(valid_media_type("application/vnd.apple.mpegurl"));
    EXPECT_TRUE(valid_media_type("image/svg+xml"));
    EXPECT_FALSE(valid_media_type("text/html; charset=utf-8"));
    EXPECT_FALSE(valid_media_type("video"));
    EXPECT_FALSE(valid_media_type("/mp4"));
    EXPECT_FALSE(valid_media_type("video/"));
    EXPECT_FALSE(valid_media_type("video/mp4\r\nX-Evil: 1"));
    EXPECT_FALSE(valid_media_type(std::string(100, 'a') + "/" + std::string(100, 'b')));
}
