// The `transcode` job type (contract in transcode.hpp): its settings, its payload, and the handler
// as the list of its steps (transcode_steps.cpp).
#include "transcode.hpp"

#include "transcode_steps.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <utility>
#include <vector>

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace wharf::worker {
namespace {

using nlohmann::json;

bool optional_bool(const json& p, const char* name, bool fallback) {
    if (!p.contains(name) || p[name].is_null()) return fallback;
    if (!p[name].is_boolean()) throw permanent_error(fmt::format("payload.{} must be true or false", name));
    return p[name].get<bool>();
}

bool is_hex_sha256(const std::string& s) {
    return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

double decimal_setting(const wharf::config& cfg, std::string_view key, double fallback, double lo, double hi) {
    const auto text = cfg.get(key);
    if (!text) return fallback;
    double v = 0;
    const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
    if (ec != std::errc{} || end != text->data() + text->size() || !(v >= lo && v <= hi))
        throw wharf::config_error(fmt::format("--{}: \"{}\" is not a number from {} to {}", key, *text, lo, hi));
    return v;
}

std::int64_t integer_setting(const wharf::config& cfg, std::string_view key, std::int64_t fallback, std::int64_t lo,
                             std::int64_t hi) {
    const auto v = cfg.integer(key, fallback);
    if (v < lo || v > hi) throw wharf::config_error(fmt::format("--{} must be from {} to {} (got {})", key, lo, hi, v));
    return v;
}

std::int64_t bitrate_setting(const wharf::config& cfg, std::string_view key, std::int64_t fallback) {
    const auto text = cfg.get(key);
    if (!text) return fallback;
    auto b = media::parse_bitrate(*text);
    if (!b) throw wharf::config_error(fmt::format("--{}: {}", key, b.error().message));
    return *b;
}

}  // namespace

std::vector<wharf::option_spec> transcode_option_specs() {
    return {
        {"transcode_ladder", "renditions as <short side>p=<video bitrate>, e.g. 360p=800k,720p=2800k,1080p=5M", false,
         "360p=800k,720p=2800k"},
        {"transcode_threads", "threads one transcode's ffmpeg may use in all (0: ffmpeg decides)", false, "0"},
        {"transcode_nice", "niceness added to ffmpeg and ffprobe (0-19)", false, "10"},
        {"transcode_stall_timeout", "an ffmpeg that makes no progress this long is stopped (retried)", false, "120s"},
        {"transcode_kill_grace", "after SIGTERM, how long ffmpeg has before SIGKILL", false, "10s"},
        {"transcode_keyframe_seconds", "seconds between keyframes, the same in every rendition", false, "2"},
        {"transcode_segment_seconds", "HLS segment length, a whole number of keyframe intervals", false, "4"},
        {"transcode_hls_format", "HLS segments: fmp4 or ts", false, "fmp4"},
        {"transcode_preset", "x264 preset, ultrafast .. veryslow", false, "veryfast"},
        {"transcode_audio_bitrate", "AAC bitrate in renditions (and MP3 bitrate)", false, "128k"},
        {"transcode_max_frame_rate", "renditions of faster sources are brought down to this", false, "60"},
        {"transcode_ffmpeg", "the ffmpeg program", false, "ffmpeg"},
        {"transcode_ffprobe", "the ffprobe program", false, "ffprobe"},
        {"transcode_parallel_uploads", "outputs of one transcode stored at once", false, "4"},
        {"transcode_store_while_encoding", "store finished HLS segments while ffmpeg encodes the rest (true/false)",
         false, "true"},
    };
}

transcode_settings transcode_settings_from(const wharf::config& cfg) {
    transcode_settings s;
    auto ladder = media::parse_ladder(cfg.get_or("transcode_ladder", "360p=800k,720p=2800k"));
    if (!ladder) throw wharf::config_error("--transcode-ladder: " + ladder.error().message);
    s.ladder = std::move(*ladder);
    s.encode.threads = static_cast<int>(integer_setting(cfg, "transcode_threads", 0, 0, 256));
    s.nice = static_cast<int>(integer_setting(cfg, "transcode_nice", 10, 0, 19));
    s.stall_timeout = cfg.duration("transcode_stall_timeout", std::chrono::seconds(120));
    s.kill_grace = cfg.duration("transcode_kill_grace", std::chrono::seconds(10));
    if (s.stall_timeout < std::chrono::milliseconds(100)) throw wharf::config_error("--transcode-stall-timeout must be at least 100ms");
    s.encode.keyframe_seconds = decimal_setting(cfg, "transcode_keyframe_seconds", 2, 0.5, 20);
    s.encode.segment_seconds = decimal_setting(cfg, "transcode_segment_seconds", 4, 0.5, 60);
    const auto format = media::parse_hls_format(cfg.get_or("transcode_hls_format", "fmp4"));
    if (!format) throw wharf::config_error("--transcode-hls-format must be fmp4 or ts");
    s.encode.format = *format;
    s.encode.preset = cfg.get_or("transcode_preset", "veryfast");
    s.encode.audio_bitrate = s.encode.mp3_bitrate = bitrate_setting(cfg, "transcode_audio_bitrate", 128'000);
    s.encode.max_frame_rate = decimal_setting(cfg, "transcode_max_frame_rate", 60, 1, 480);
    s.encode.ffmpeg = cfg.get_or("transcode_ffmpeg", "ffmpeg");
    s.ffprobe = cfg.get_or("transcode_ffprobe", "ffprobe");
    s.parallel_uploads = static_cast<std::size_t>(integer_setting(cfg, "transcode_parallel_uploads", 4, 1, 64));
    const std::string overlap = cfg.get_or("transcode_store_while_encoding", "true");
    if (overlap != "true" && overlap != "false") throw wharf::config_error("--transcode-store-while-encoding must be true or false");
    s.store_while_encoding = overlap == "true";
    if (auto ok = media::check_settings(s.encode); !ok) throw wharf::config_error("transcode settings: " + ok.error().message);
    return s;
}

transcode_request parse_transcode_request(const json& p, const std::optional<std::string>& envelope_api_key,
                                          const transcode_settings& settings) {
    if (!p.is_object()) throw permanent_error("payload must be a JSON object");
    transcode_request r;
    r.source = parse_payload_source(p);
    if (r.source.key) {
        r.source_sha256 = payload_optional_string(p["source"], "sha256");
        if (r.source_sha256 && !is_hex_sha256(*r.source_sha256))
            throw permanent_error("payload.source.sha256 must be 64 lowercase hex digits");
    }

    r.video_id = payload_string(p, "video_id");
    if (r.video_id.size() > 128 || r.video_id.find('/') != std::string::npos || r.video_id == "." || r.video_id == "..")
        throw permanent_error("payload.video_id must be at most 128 characters without '/'");
    r.output_prefix = payload_optional_string(p, "output_prefix").value_or("processed/" + r.video_id + "/");
    if (!r.output_prefix.ends_with('/')) throw permanent_error("payload.output_prefix must end with '/'");
    if (auto why = key_layout_violation(r.output_prefix + std::string(media::layout::metadata)))
        throw permanent_error("payload.output_prefix: " + *why);

    if (p.contains("renditions") && !p["renditions"].is_null()) {
        const auto& list = p["renditions"];
        if (!list.is_array() || list.empty() || list.size() > settings.ladder.rungs.size())
            throw permanent_error("payload.renditions must be a non-empty list of the ladder's renditions");
        for (const auto& name : list) {
            if (!name.is_string()) throw permanent_error("payload.renditions must hold names like \"720p\"");
            r.renditions.push_back(name.get<std::string>());
        }
    }
    r.hls = optional_bool(p, "hls", true);
    r.master = optional_bool(p, "master", true);
    r.audio = optional_bool(p, "audio", true);
    r.thumbnails = optional_bool(p, "thumbnails", true);
    r.metadata = optional_bool(p, "metadata", true);
    r.strict = optional_bool(p, "strict", false);
    if (p.contains("segment_seconds") && !p["segment_seconds"].is_null()) {
        if (!p["segment_seconds"].is_number()) throw permanent_error("payload.segment_seconds must be a number");
        r.segment_seconds = p["segment_seconds"].get<double>();
        media::encode_settings check = settings.encode;
        check.segment_seconds = r.segment_seconds;
        if (auto ok = media::check_settings(check); !ok) throw permanent_error("payload.segment_seconds: " + ok.error().message);
    }
    if (auto f = payload_optional_string(p, "hls_format")) {
        r.hls_format = media::parse_hls_format(*f);
        if (!r.hls_format) throw permanent_error("payload.hls_format must be \"fmp4\" or \"ts\"");
    }
    r.provider = payload_optional_string(p, "provider");
    r.api_key = payload_api_key(p, envelope_api_key);
    r.presign_expires = payload_presign_expires(p);
    return r;
}

namespace {

using namespace transcode_steps;

// Where a run's time went, phase by phase (steady clock), for the result and the log.
class phase_clock {
public:
    void lap(const char* phase) {
        const auto now = std::chrono::steady_clock::now();
        laps_.emplace_back(phase, std::chrono::duration<double>(now - last_).count());
        last_ = now;
    }
    json to_json() const {
        json j = json::object();
        for (const auto& [phase, seconds] : laps_) j[phase] = std::round(seconds * 1000) / 1000;
        return j;
    }
    std::string text() const {
        std::string t;
        for (const auto& [phase, seconds] : laps_) t += fmt::format("{}{} {:.1f} s", t.empty() ? "" : ", ", phase, seconds);
        return t;
    }

private:
    std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
    std::vector<std::pair<const char*, double>> laps_;
};

asio::awaitable<json> run_transcode(std::shared_ptr<storage_services> services,
                                    std::shared_ptr<const transcode_settings> settings, job_context& ctx) {
    storage_services& s = *services;
    const transcode_request req = parse_transcode_request(ctx.payload, ctx.api_key, *settings);
    progress_reporter progress(ctx.report_progress);
    phase_clock clock;

    auto cleanup = abort_uploads_left_open(s, ctx);
    co_await std::move(cleanup);
    const job_scratch scratch = make_scratch(s.options(), ctx);

    auto fetching = fetch_source(s, req, scratch, progress);
    const fs::path source = co_await std::move(fetching);
    clock.lap("fetch");

    auto probing = probe_source(source, *settings, !req.renditions.empty());
    media::probe_report probe = co_await std::move(probing);
    const transcode_plan plan = plan_outputs(std::move(probe), source, req, *settings);
    clock.lap("probe");

    // Segments ffmpeg has finished are stored while it encodes the rest.
    early_store early;
    auto encoding = encode_and_store_segments(s, ctx, req, plan, scratch, *settings, progress, early);
    co_await std::move(encoding);
    clock.lap("encode");

    auto verifying = verify_outputs(plan, scratch, req, *settings, s.blocking_pool());
    transcode_outputs outputs = co_await std::move(verifying);
    auto indexing = write_indexes(plan, scratch, req, outputs, s.blocking_pool());
    co_await std::move(indexing);
    clock.lap("verify");

    auto storing = store_outputs(s, ctx, req, scratch, outputs, settings->parallel_uploads, progress, early);
    co_await std::move(storing);
    clock.lap("store");

    json result = result_of(plan, req, outputs);
    result["timings"] = clock.to_json();
    result["stored_while_encoding"] = early.reused;
    spdlog::info("job {}: transcoded {} ({} files; {} stored while encoding): {}", ctx.id, req.video_id,
                 outputs.files.size(), early.reused, clock.text());
    co_return result;
}

}  // namespace

job_type transcode_job_type(std::shared_ptr<storage_services> services, transcode_settings settings) {
    auto shared = std::make_shared<const transcode_settings>(std::move(settings));
    return job_type{.name = "transcode",
                    .handler = [services, shared](job_context& ctx) { return run_transcode(services, shared, ctx); },
                    .max_attempts = 3,
                    .timeout = std::chrono::hours(2),
                    .retry_base = std::chrono::seconds(10),
                    .retry_cap = std::chrono::minutes(10)};
}

void register_transcode_job(job_registry& registry, std::shared_ptr<storage_services> services,
                            transcode_settings settings) {
    registry.add(transcode_job_type(std::move(services), std::move(settings)));
}

}  // namespace wharf::worker
