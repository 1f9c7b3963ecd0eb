// The Prometheus text format with hostile label values and help text (queue and provider names
// come from configuration): every sample stays on one line, every label value stays quoted, so
// a name cannot forge another series or break the scrape.
#include "fuzz_support.hpp"

#include "wharf/metrics/registry.hpp"

#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto input = wharf::fuzz::text(data, size);
    const auto cut = input.find('\0');
    const std::string a{input.substr(0, cut)};
    const std::string b{cut == std::string_view::npos ? std::string_view{} : input.substr(cut + 1)};
    wharf::metrics::registry r;
    r.counters("wharf_fuzz_total", a, {"queue", "outcome"}).with({a, b}).inc();
    const double bounds[] = {0.5, 1};
    r.histograms("wharf_fuzz_seconds", b, bounds, {"queue"}).with({b}).observe(0.7);
    const std::string text = r.render();
    // Two HELP/TYPE pairs, one counter sample, a histogram of 3 buckets + sum + count.
    std::size_t lines = 0, samples = 0;
    for (std::size_t at = 0; at < text.size();) {
        const auto end = text.find('\n', at);
        WHARF_FUZZ_CHECK(end != std::string::npos);
        const std::string_view line{text.data() + at, end - at};
        ++lines;
        if (!line.starts_with("#")) {
            ++samples;
            // name{labels} value: the value follows the closing brace of the label set.
            const auto close = line.rfind('}');
            WHARF_FUZZ_CHECK(close != std::string_view::npos);
            WHARF_FUZZ_CHECK(line.substr(close).starts_with("} "));
        }
        at = end + 1;
    }
    WHARF_FUZZ_CHECK(lines == 4 + 1 + 5);
    WHARF_FUZZ_CHECK(samples == 6);
    return 0;
}
