// What makes a transcode a success, checked on the probed outputs (pure): each rendition is H.264
// at its planned size (with AAC when the source has audio), the MP3 is MP3, images are images,
// and every duration -- each output's, and each HLS playlist's sum of segments -- is within 1 %
// of the input's (or two frames/packets of that output, for clips so short that 1 % is less).
#pragma once

#include "wharf/media/error.hpp"
#include "wharf/media/hls.hpp"
#include "wharf/media/ladder.hpp"
#include "wharf/media/probe.hpp"

namespace wharf::media {

// The part of the output's duration that plays: duration minus a positive start time (an MP3's
// encoder delay). nullopt when there is no duration.
double playable_duration(const media_info& output);

// |output - input| <= max(1 % of input, 2 * granularity).
bool duration_matches(double input, double output, double granularity);

// `input_video_duration`: the source's video stream, when ffprobe knows it (its audio may run
// longer); the MP4 as a whole is held to input_duration.
result<void> check_rendition(const media_info& output, const rendition& planned, bool with_audio, double input_duration,
                             std::optional<double> input_video_duration = {});
result<void> check_mp3(const media_info& output, double input_duration);
result<void> check_image(const media_info& output, int width, int height);
// Ended, segments no longer than a segment and a keyframe interval, total duration matching.
result<void> check_playlist(const media_playlist& p, double input_duration, double segment_seconds,
                            double keyframe_seconds, double frame_rate);

}  // namespace wharf::media
