// What the transcode proofs share: short clips ffmpeg generates once per test binary (testsrc2 +
// sine, tiny and fast to encode), ffprobe read independently of wharf's parser, and the ffmpeg
// processes a test started, found in /proc.
#pragma once

#include "wharf/test/process.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>
#include <sys/types.h>

namespace wharf::test {

struct clip_set {
    std::filesystem::path dir;
    std::filesystem::path hd;         // 1920x1080, 30 fps, 2.5 s, stereo AAC, +faststart
    std::filesystem::path sd;         // 854x480, 25 fps, 2 s, AAC
    std::filesystem::path portrait;   // 720x1280, 30 fps, 2 s, AAC
    std::filesystem::path odd;        // 853x479 (4:4:4), 25 fps, 2 s, no audio
    std::filesystem::path audio;      // AAC only, 3 s
    std::filesystem::path long_hd;    // 1920x1080, 30 fps, 8 s: runs long enough to be caught
    std::filesystem::path truncated;  // hd cut at 60 %: probes as 2.5 s, decodes about half
    std::filesystem::path garbage;    // random bytes named .mp4
    std::filesystem::path damaged;    // sd with bytes overwritten inside the picture data
};

// Generated on first use (about 10 s on 2 cores), removed at exit.
const clip_set& clips();

// ffprobe -of json -show_format -show_streams, parsed (throws when ffprobe fails).
nlohmann::json ffprobe(const std::filesystem::path& file);
// Keyframe times of the first video stream (ffprobe -skip_frame nokey).
std::vector<double> keyframe_times(const std::filesystem::path& file);

// How many entries a folder holds (0 when it is not there).
std::size_t entries_in(const std::filesystem::path& dir);

// ffmpeg processes whose command line or working directory mentions `under`.
std::vector<pid_t> ffmpeg_processes_under(const std::filesystem::path& under);
// Polls until one appears (empty on timeout).
std::vector<pid_t> wait_for_ffmpeg(const std::filesystem::path& under, std::chrono::milliseconds timeout);

}  // namespace wharf::test
