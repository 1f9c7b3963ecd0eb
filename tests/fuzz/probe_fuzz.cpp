// ffprobe's JSON (what a hostile file can make ffprobe print: tags, names, numbers as strings),
// through the parser and then every pure stage it feeds: validation, the ladder, the thumbnails
// plan and the ffmpeg argv. Whatever parses must plan within the source (even sizes, never
// larger), and an argv that builds must read the input once.
#include "fuzz_support.hpp"

#include "wharf/media/ffmpeg_command.hpp"
#include "wharf/media/ladder.hpp"
#include "wharf/media/probe.hpp"
#include "wharf/media/thumbnails.hpp"

#include <algorithm>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace m = wharf::media;
    const auto parsed = m::parse_probe(wharf::fuzz::text(data, size), {.max_bytes = 1 << 20, .max_depth = 16});
    if (!parsed) {
        WHARF_FUZZ_CHECK(parsed.error().code == m::errc::bad_probe_output);
        return 0;
    }
    const auto& info = parsed->info;
    (void)m::derived_json(info).dump();
    WHARF_FUZZ_CHECK(parsed->raw["streams"].is_array());
    if (!m::validate_source(info, false)) return 0;

    static const m::ladder ladder = m::parse_ladder("240p=400k,360p=800k,720p=2800k,1080p=5M").value();
    const auto plan = m::plan_renditions(info, ladder);
    if (!plan) return 0;
    int own_size = 0;
    for (const auto& r : plan->renditions) {
        WHARF_FUZZ_CHECK(r.width >= 2 && r.height >= 2 && r.width % 2 == 0 && r.height % 2 == 0);
        WHARF_FUZZ_CHECK(r.width <= std::max(2, info.video->display_width));
        WHARF_FUZZ_CHECK(r.height <= std::max(2, info.video->display_height));
        WHARF_FUZZ_CHECK(r.video_bitrate >= 8'000 && r.video_bitrate <= 5'000'000);
        if (r.name != r.rung) ++own_size;
    }
    WHARF_FUZZ_CHECK(own_size <= 1);
    m::encode_request req;
    req.input = "/scratch/source";
    req.source = info;
    req.renditions = plan->renditions;
    req.thumbnails = m::plan_thumbnails(info);
    if (req.thumbnails) {
        WHARF_FUZZ_CHECK(req.thumbnails->tiles >= 1 && req.thumbnails->tiles <= 100);
        WHARF_FUZZ_CHECK(req.thumbnails->columns * req.thumbnails->rows >= req.thumbnails->tiles);
    }
    const auto command = m::build_ffmpeg_command(req, {});
    if (command) WHARF_FUZZ_CHECK(std::count(command->argv.begin(), command->argv.end(), "-i") == 1);
    return 0;
}
