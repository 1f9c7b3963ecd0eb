// The names a client asks a pipeline's outputs for (seed 001's file types), from their keys.
#include "../../../worker/jobs/publish.hpp"

#include <gtest/gtest.h>

using wharf::worker::artifact_name;

TEST(artifact_name, names_the_files_a_client_fetches_by_their_seed_file_type) {
    EXPECT_EQ(artifact_name("360p/video_360p.mp4"), "360p");
    EXPECT_EQ(artifact_name("1080p/video_1080p.mp4"), "1080p");
    EXPECT_EQ(artifact_name("audio/audio.mp3"), "audio");
    EXPECT_EQ(artifact_name("720p/segments/playlist.presigned.m3u8"), "hls_720p");
    EXPECT_EQ(artifact_name("hls/master.presigned.m3u8"), "hls_master");
    EXPECT_EQ(artifact_name("hls/master.m3u8"), "hls_master_relative");
    EXPECT_EQ(artifact_name("thumbnails/poster.jpg"), "thumbnails");
    EXPECT_EQ(artifact_name("thumbnails/sprite.jpg"), "thumbnails_sprite");
    EXPECT_EQ(artifact_name("thumbnails/sprite.vtt"), "thumbnails_vtt");
    EXPECT_EQ(artifact_name("metadata.json"), "metadata");
    EXPECT_EQ(artifact_name("raw/video_original.mov"), "original");
}

TEST(artifact_name, leaves_out_what_a_player_reaches_through_a_playlist) {
    EXPECT_FALSE(artifact_name("360p/segments/segment_00001.m4s"));
    EXPECT_FALSE(artifact_name("360p/segments/init.mp4"));
    EXPECT_FALSE(artifact_name("360p/segments/playlist.m3u8"));  // relative URIs: for a CDN
    EXPECT_FALSE(artifact_name("360p/video_720p.mp4"));
    EXPECT_FALSE(artifact_name("notes.txt"));
    EXPECT_FALSE(artifact_name(""));
}
