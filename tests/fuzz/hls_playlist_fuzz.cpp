// A media playlist as ffmpeg writes it (read back before storing): whatever parses names only
// plain files in its folder, and its bandwidth and the master written from it are well formed.
#include "fuzz_support.hpp"

#include "wharf/media/hls.hpp"

#include <cmath>
#include <stdexcept>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace m = wharf::media;
    const auto p = m::parse_media_playlist(wharf::fuzz::text(data, size), {.max_bytes = 1 << 16, .max_line = 512,
                                                                           .max_segments = 2000});
    if (!p) return 0;
    std::vector<std::uint64_t> sizes;
    for (const auto& s : p->segments) {
        WHARF_FUZZ_CHECK(!s.uri.empty() && s.uri.find('/') == std::string::npos && s.uri != "..");
        WHARF_FUZZ_CHECK(std::isfinite(s.duration) && s.duration >= 0);
        sizes.push_back(s.uri.size() * 1000);
    }
    const auto bw = m::measure_bandwidth(*p, sizes);
    WHARF_FUZZ_CHECK(bw.peak >= bw.average && bw.average >= 0);
    if (bw.peak > 0) {
        const std::string master = m::master_playlist({{"../a/segments/playlist.m3u8", bw.peak, bw.average, 640, 360,
                                                        "avc1.64001e,mp4a.40.2", 30}});
        WHARF_FUZZ_CHECK(master.starts_with("#EXTM3U\n"));
    }
    return 0;
}
