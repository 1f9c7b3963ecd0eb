// ffmpeg's -progress output (what a hostile input can make ffmpeg print is limited, but the
// parser must not care): fed in chunks whose size comes from the first byte, it must give exactly
// the blocks it gives for the whole text at once, within its line limit.
#include "fuzz_support.hpp"

#include "wharf/media/progress.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace m = wharf::media;
    if (size < 1) return 0;
    const std::size_t chunk = std::size_t{data[0]} + 1;
    const auto input = wharf::fuzz::text(data + 1, size - 1);
    const m::progress_limits limits{.max_line = 128, .max_keys = 16};

    m::progress_parser whole(limits);
    const auto expected = whole.feed(input);
    m::progress_parser pieces(limits);
    std::vector<m::progress_block> got;
    for (std::size_t at = 0; at < input.size(); at += chunk)
        for (auto& b : pieces.feed(input.substr(at, chunk))) got.push_back(b);
    WHARF_FUZZ_CHECK(got == expected);
    WHARF_FUZZ_CHECK(pieces.ended() == whole.ended());
    WHARF_FUZZ_CHECK(pieces.dropped_lines() == whole.dropped_lines());
    for (const auto& b : got) {
        if (b.out_time_us) WHARF_FUZZ_CHECK(*b.out_time_us >= 0);
        const double percent = m::progress_percent(b, 10.0);
        WHARF_FUZZ_CHECK(percent >= 0 && percent <= 100);
    }
    return 0;
}
