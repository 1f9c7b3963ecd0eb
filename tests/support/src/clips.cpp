// Clips, ffprobe and /proc for the transcode proofs (see clips.hpp).
#include "wharf/test/clips.hpp"

#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace wharf::test {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

void ffmpeg(std::vector<std::string> args) {
    std::vector<std::string> argv{"ffmpeg", "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-threads", "1"};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = run(argv, {}, 120s);
    if (r.status != 0) throw std::runtime_error("generating a clip failed: " + r.output);
}

std::vector<std::string> av(const std::string& size, int fps, double seconds, bool audio) {
    std::vector<std::string> a{"-f", "lavfi", "-i",
                               "testsrc2=size=" + size + ":rate=" + std::to_string(fps) + ":duration=" + std::to_string(seconds)};
    if (audio) a.insert(a.end(), {"-f", "lavfi", "-i", "sine=frequency=440:duration=" + std::to_string(seconds)});
    a.insert(a.end(), {"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "30"});
    if (audio) a.insert(a.end(), {"-c:a", "aac", "-ac", "2", "-shortest"});
    a.insert(a.end(), {"-movflags", "+faststart"});
    return a;
}

std::vector<std::string> with(std::vector<std::string> a, const fs::path& out) {
    a.push_back(out.string());
    return a;
}

struct owned_clips {
    temp_dir dir{"wharf-clips"};
    clip_set set;
};

}  // namespace

const clip_set& clips() {
    static const std::unique_ptr<owned_clips> made = [] {
        auto o = std::make_unique<owned_clips>();
        auto& c = o->set;
        c.dir = o->dir.path();
        c.hd = c.dir / "hd.mp4";
        ffmpeg(with(av("1920x1080", 30, 2.5, true), c.hd));
        c.sd = c.dir / "sd.mp4";
        ffmpeg(with(av("854x480", 25, 2, true), c.sd));
        c.portrait = c.dir / "portrait.mp4";
        ffmpeg(with(av("720x1280", 30, 2, true), c.portrait));
        c.odd = c.dir / "odd.mp4";
        ffmpeg({"-f", "lavfi", "-i", "testsrc2=size=854x480:rate=25:duration=2", "-vf", "format=yuv444p,crop=853:479:0:0",
                "-c:v", "libx264", "-preset", "ultrafast", c.odd.string()});
        c.audio = c.dir / "audio.m4a";
        ffmpeg({"-f", "lavfi", "-i", "sine=frequency=330:duration=3", "-c:a", "aac", "-ac", "2", c.audio.string()});
        c.long_hd = c.dir / "long.mp4";
        ffmpeg(with(av("1920x1080", 30, 8, true), c.long_hd));

        // The moov box is at the front (+faststart): the cut file still says 2.5 s.
        c.truncated = c.dir / "truncated.mp4";
        {
            std::ifstream in(c.hd, std::ios::binary);
            std::string bytes((std::istreambuf_iterator<char>(in)), {});
            std::ofstream(c.truncated, std::ios::binary) << bytes.substr(0, bytes.size() * 6 / 10);
        }
        c.garbage = c.dir / "garbage.mp4";
        {
            std::mt19937 rng(7);
            std::string bytes(200'000, '\0');
            for (auto& b : bytes) b = static_cast<char>(rng());
            std::ofstream(c.garbage, std::ios::binary) << bytes;
        }
        // 64 bytes overwritten every 20 KB from 30 % on: the container is intact, the picture
        // data is not. ffmpeg conceals it (and says so on stderr) unless told to stop at errors.
        c.damaged = c.dir / "damaged.mp4";
        {
            std::ifstream in(c.sd, std::ios::binary);
            std::string bytes((std::istreambuf_iterator<char>(in)), {});
            std::mt19937 rng(1);
            for (std::size_t at = bytes.size() * 3 / 10; at + 64 < bytes.size() * 9 / 10; at += 20'000)
                for (std::size_t i = 0; i < 64; ++i) bytes[at + i] = static_cast<char>(rng());
            std::ofstream(c.damaged, std::ios::binary) << bytes;
        }
        return o;
    }();
    return made->set;
}

nlohmann::json ffprobe(const fs::path& file) {
    const auto r = run({"ffprobe", "-v", "error", "-of", "json", "-show_format", "-show_streams", file.string()});
    if (r.status != 0) throw std::runtime_error("ffprobe " + file.string() + ": " + r.output);
    return nlohmann::json::parse(r.output);
}

std::vector<double> keyframe_times(const fs::path& file) {
    const auto r = run({"ffprobe", "-v", "error", "-select_streams", "v:0", "-skip_frame", "nokey", "-show_entries",
                        "frame=pts_time", "-of", "csv=p=0", file.string()});
    if (r.status != 0) throw std::runtime_error("ffprobe " + file.string() + ": " + r.output);
    std::vector<double> out;
    std::istringstream lines(r.output);
    for (std::string line; std::getline(lines, line);) {
        const auto comma = line.find(',');
        if (comma != std::string::npos) line = line.substr(0, comma);
        if (!line.empty()) out.push_back(std::stod(line));
    }
    return out;
}

std::size_t entries_in(const fs::path& dir) {
    std::error_code ec;
    std::size_t n = 0;
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); ++it) ++n;
    return n;
}

std::vector<pid_t> ffmpeg_processes_under(const fs::path& under) {
    std::vector<pid_t> out;
    const std::string needle = under.string();
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/proc", ec)) {
        const auto name = e.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        const std::string cmdline = read_proc_file(e.path() / "cmdline");
        if (cmdline.empty()) continue;  // a zombie, or gone
        const std::string argv0 = cmdline.substr(0, cmdline.find('\0'));
        if (fs::path(argv0).filename() != "ffmpeg") continue;
        std::error_code link_ec;
        const auto cwd = fs::read_symlink(e.path() / "cwd", link_ec).string();
        if (cmdline.find(needle) != std::string::npos || cwd.find(needle) != std::string::npos)
            out.push_back(std::stoi(name));
    }
    return out;
}

std::vector<pid_t> wait_for_ffmpeg(const fs::path& under, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        auto found = ffmpeg_processes_under(under);
        if (!found.empty()) return found;
        std::this_thread::sleep_for(5ms);
    }
    return {};
}

}  // namespace wharf::test
