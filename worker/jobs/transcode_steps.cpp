// The steps of a `transcode` job (see transcode_steps.hpp).
#include "transcode_steps.hpp"

#include "wharf/asio/bounded_parallel.hpp"
#include "wharf/asio/offload.hpp"
#include "wharf/core/json.hpp"
#include "wharf/media/hls.hpp"
#include "wharf/media/tools.hpp"
#include "wharf/media/verify.hpp"
#include "wharf/storage/content.hpp"
#include "wharf/storage/sha256.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <random>
#include <sstream>
#include <system_error>

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace wharf::worker::transcode_steps {
namespace {

using nlohmann::json;
namespace layout = media::layout;

media::tool_options probe_options(const transcode_settings& settings) {
    media::tool_options o;
    o.ffprobe = settings.ffprobe;
    o.nice = settings.nice;
    o.kill_grace = settings.kill_grace;
    return o;
}

bool has_audio(const media::media_info& m) { return m.audio && !m.audio->codec.empty(); }

// A media playlist ffmpeg wrote, read back with the sizes of its segments (blocking: offloaded).
struct playlist_read {
    media::media_playlist playlist;
    std::vector<std::uint64_t> sizes;
    std::string error;  // empty when everything it names exists
};

playlist_read read_playlist(const fs::path& file) {
    playlist_read r;
    std::error_code ec;
    const auto size = fs::file_size(file, ec);
    const media::playlist_limits limits;
    if (ec) {
        r.error = file.filename().string() + " is missing: " + ec.message();
        return r;
    }
    if (size > limits.max_bytes) {
        r.error = fmt::format("{} is larger than {} bytes", file.filename().string(), limits.max_bytes);
        return r;
    }
    std::ifstream in(file, std::ios::binary);
    std::string text(static_cast<std::size_t>(size), '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    auto parsed = media::parse_media_playlist(text, limits);
    if (!parsed) {
        r.error = parsed.error().message;
        return r;
    }
    r.playlist = std::move(*parsed);
    const fs::path dir = file.parent_path();
    if (r.playlist.map_uri && !fs::is_regular_file(dir / *r.playlist.map_uri, ec)) {
        r.error = "its init segment " + *r.playlist.map_uri + " is missing";
        return r;
    }
    for (const auto& seg : r.playlist.segments) {
        const auto n = fs::file_size(dir / seg.uri, ec);
        if (ec) {
            r.error = "segment " + seg.uri + " is missing";
            return r;
        }
        r.sizes.push_back(n);
    }
    return r;
}

asio::awaitable<media::media_info> probe_output(fs::path file, media::tool_options options, std::string what) {
    auto probing = media::probe_file(std::move(file), std::move(options));
    auto probed = co_await std::move(probing);
    if (!probed) throw permanent_error(what + " cannot be read back: " + probed.error().message);
    co_return std::move(probed->info);
}

media::problem problem_in(const std::string& rendition, const media::problem& p) {
    return media::problem{p.code, rendition + ": " + p.message};
}

[[noreturn]] void mismatch(const media::problem& p) {
    throw permanent_error("an output does not match the input: " + p.message);
}

// The playlist of a rendition: read, checked, its files listed, its bandwidth measured.
asio::awaitable<media::bandwidth> check_hls(asio::thread_pool& blocking, const transcode_plan& plan, const fs::path& out_dir,
                                            const std::string& rendition, double frame_rate,
                                            transcode_outputs& outputs) {
    const std::string playlist = layout::playlist(rendition);
    const fs::path file = out_dir / playlist;
    auto reading = offload(blocking.get_executor(), [file] { return read_playlist(file); });
    const playlist_read pr = co_await std::move(reading);
    if (!pr.error.empty()) throw permanent_error(fmt::format("{}'s HLS playlist: {}", rendition, pr.error));
    if (auto ok = media::check_playlist(pr.playlist, plan.request.source.duration, plan.settings.segment_seconds,
                                        plan.settings.keyframe_seconds, frame_rate);
        !ok)
        mismatch(problem_in(rendition, ok.error()));
    const std::string dir = layout::segments_dir(rendition) + "/";
    if (pr.playlist.map_uri) outputs.files.push_back({dir + *pr.playlist.map_uri, "init", rendition, {}});
    for (const auto& seg : pr.playlist.segments) outputs.files.push_back({dir + seg.uri, "segment", rendition, {}});
    outputs.files.push_back({playlist, "playlist", rendition, {}});
    co_return media::measure_bandwidth(pr.playlist, pr.sizes);
}

}  // namespace

job_scratch make_scratch(const storage_job_options& options, const job_context& ctx) {
    std::random_device random;
    scratch_path root(options, "transcode", ctx, fmt::format("+{:08x}", random()));
    // Earlier runs of this job (a worker killed mid-transcode): the same name up to the '+',
    // which no sanitised job id holds.
    const std::string mine = root.path().filename().string();
    const std::string stem = mine.substr(0, mine.rfind('+') + 1);
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(options.scratch_dir, ec)) {
        const std::string name = entry.path().filename().string();
        if (name != mine && name.starts_with(stem)) fs::remove_all(entry.path(), ec);
    }
    const fs::path out = root.path() / "out";
    fs::create_directories(out, ec);
    if (ec) throw std::runtime_error("cannot make the scratch folder " + out.string() + ": " + ec.message());
    const fs::path download = root.path() / "source";
    return job_scratch{std::move(root), out, download};
}

asio::awaitable<fs::path> fetch_source(storage_services& s, const transcode_request& req, const job_scratch& scratch,
                                       progress_reporter& progress) {
    if (req.source.path) {
        fs::path resolved;
        if (auto why = local_source_refusal(*req.source.path, s.options().source_roots, &resolved))
            throw permanent_error("payload.source " + req.source.path->string() + ": " + *why);
        co_return resolved;
    }
    auto* from = s.providers().find(*req.source.provider);
    if (!from) throw permanent_error("payload.source.provider: unknown storage provider \"" + *req.source.provider + "\"");
    progress("fetch", 0, 0);
    std::optional<std::string> sha256;
    try {
        // get_to_file checks the SHA-256 the object carries, if it carries one; get_content decodes.
        auto fetch = storage::get_content(*from, *req.source.key, scratch.download);
        const auto info = co_await std::move(fetch);
        sha256 = info.sha256;
        progress("fetch", info.size, info.size);
    } catch (const storage::error& e) {
        rethrow_storage(e, "downloading the source " + *req.source.provider + ":" + *req.source.key);
    }
    if (req.source_sha256) {
        if (!sha256) {
            auto hash = offload(s.blocking_pool().get_executor(),
                                [file = scratch.download] { return storage::sha256_file_hex(file); });
            sha256 = co_await std::move(hash);
        }
        if (*sha256 != *req.source_sha256)
            throw permanent_error(fmt::format("the source {}:{} has SHA-256 {}, the payload says {}", *req.source.provider,
                                              *req.source.key, *sha256, *req.source_sha256));
    }
    co_return scratch.download;
}

asio::awaitable<media::probe_report> probe_source(fs::path source, const transcode_settings& settings,
                                                  bool require_video) {
    auto probing = media::probe_file(std::move(source), probe_options(settings));
    auto probed = co_await std::move(probing);
    if (!probed) throw permanent_error("the source is not media ffprobe can read: " + probed.error().message);
    if (auto ok = media::validate_source(probed->info, require_video); !ok)
        throw permanent_error("the source cannot be transcoded: " + ok.error().message);
    co_return std::move(*probed);
}

transcode_plan plan_outputs(media::probe_report probe, const fs::path& source, const transcode_request& req,
                            const transcode_settings& settings) {
    transcode_plan p;
    p.settings = settings.encode;
    if (req.segment_seconds > 0) p.settings.segment_seconds = req.segment_seconds;
    if (req.hls_format) p.settings.format = *req.hls_format;
    p.settings.strict = req.strict;
    auto ladder = media::plan_renditions(probe.info, settings.ladder, req.renditions);
    if (!ladder) throw permanent_error("payload.renditions: " + ladder.error().message);
    p.skipped = std::move(ladder->skipped);
    p.request.input = source;
    p.request.source = probe.info;
    p.request.renditions = std::move(ladder->renditions);
    p.request.hls = req.hls;
    p.request.audio = req.audio;
    if (req.thumbnails) p.request.thumbnails = media::plan_thumbnails(probe.info, settings.thumbnails);
    p.probe = std::move(probe);
    p.nothing_to_encode = !media::makes_anything(p.request);
    if (p.nothing_to_encode) return p;
    auto command = media::build_ffmpeg_command(p.request, p.settings);
    if (!command) throw permanent_error("cannot plan the transcode: " + command.error().message);
    p.command = std::move(*command);
    return p;
}

asio::awaitable<void> encode(const transcode_plan& plan, const job_scratch& scratch, const transcode_settings& settings,
                             progress_reporter& progress) {
    if (plan.nothing_to_encode) co_return;
    for (const auto& dir : plan.command.directories) fs::create_directories(scratch.out / dir);
    media::ffmpeg_options o;
    o.argv = plan.command.argv;
    o.cwd = scratch.out;
    o.nice = settings.nice;
    o.stall_timeout = settings.stall_timeout;
    o.kill_grace = settings.kill_grace;
    const double duration = plan.request.source.duration;
    o.on_progress = [&progress, duration](const media::progress_block& b) {
        json p = {{"phase", "encode"}, {"percent", std::round(media::progress_percent(b, duration) * 10) / 10},
                  {"duration", duration}};
        if (b.out_time_us) p["out_time"] = static_cast<double>(*b.out_time_us) / 1e6;
        if (b.speed) p["speed"] = *b.speed;
        if (b.fps) p["fps"] = *b.fps;
        progress.report(std::move(p), b.end);
    };
    auto running = media::run_ffmpeg(std::move(o));
    const media::ffmpeg_run run = co_await std::move(running);
    if (run.success()) co_return;
    // Not the input's fault, or not known to be: retried.
    if (run.stalled || run.status.signal != 0 || run.status.success()) throw std::runtime_error(run.describe());
    if (media::failed_on_input(run.stderr_tail)) throw permanent_error("the source cannot be transcoded: " + run.describe());
    throw std::runtime_error(run.describe());
}

asio::awaitable<transcode_outputs> verify_outputs(const transcode_plan& plan, const job_scratch& scratch,
                                                  const transcode_request& req, const transcode_settings& settings,
                                                  asio::thread_pool& blocking) {
    transcode_outputs out;
    if (plan.nothing_to_encode) co_return out;
    const auto options = probe_options(settings);
    const auto& source = plan.request.source;
    const double input = source.duration;
    const bool with_audio = has_audio(source);
    const std::optional<double> input_video = source.video ? source.video->duration : std::nullopt;

    for (const auto& r : plan.request.renditions) {
        const std::string mp4 = layout::mp4(r.name);
        auto probing = probe_output(scratch.out / mp4, options, r.name + "'s MP4");
        const media::media_info m = co_await std::move(probing);
        if (auto ok = media::check_rendition(m, r, with_audio, input, input_video); !ok) mismatch(ok.error());
        std::string codecs = media::avc_codec_string(m.video->profile, m.video->level.value_or(0)).value_or("");
        if (with_audio) {
            if (auto a = media::audio_codec_string(m.audio->codec, m.audio->profile)) codecs += "," + *a;
        }
        const double fps = m.video->frame_rate.value();
        const double seconds = media::playable_duration(m);
        json d = {{"name", r.name},     {"rung", r.rung},   {"width", r.width},       {"height", r.height},
                  {"codecs", codecs},   {"frame_rate", fps}, {"video_bitrate", r.video_bitrate},
                  {"duration", seconds}, {"mp4_key", req.output_prefix + mp4}};
        out.files.push_back({mp4, "video", r.name, {}});
        if (req.hls) {
            auto checking = check_hls(blocking, plan, scratch.out, r.name, fps, out);
            const media::bandwidth bw = co_await std::move(checking);
            d["bandwidth"] = bw.peak;
            d["average_bandwidth"] = bw.average;
            d["playlist_key"] = req.output_prefix + layout::playlist(r.name);
        } else {
            // No segments to measure: the MP4's average, and its ceiling as the peak.
            const auto average = static_cast<std::int64_t>(
                seconds > 0 && m.size ? static_cast<double>(*m.size) * 8 / seconds : static_cast<double>(r.video_bitrate));
            const std::int64_t ceiling = r.max_bitrate + (with_audio ? plan.settings.audio_bitrate : 0);
            d["bandwidth"] = std::max(average, ceiling);
            d["average_bandwidth"] = average;
        }
        out.renditions.push_back(std::move(d));
    }

    if (plan.command.audio_rendition) {
        const std::string name{layout::audio_rendition};
        auto checking = check_hls(blocking, plan, scratch.out, name, 0, out);
        const media::bandwidth bw = co_await std::move(checking);
        out.renditions.push_back({{"name", name},
                                  {"rung", name},
                                  {"codecs", "mp4a.40.2"},
                                  {"bandwidth", bw.peak},
                                  {"average_bandwidth", bw.average},
                                  {"duration", input},
                                  {"playlist_key", req.output_prefix + layout::playlist(name)}});
    }

    if (req.audio && with_audio) {
        auto probing = probe_output(scratch.out / layout::audio_mp3, options, "audio.mp3");
        const media::media_info m = co_await std::move(probing);
        if (auto ok = media::check_mp3(m, input); !ok) mismatch(ok.error());
        out.files.push_back({std::string(layout::audio_mp3), "audio", "", {}});
        out.mp3 = true;
    }

    if (plan.request.thumbnails) {
        const auto& t = *plan.request.thumbnails;
        auto poster = probe_output(scratch.out / layout::poster, options, "the poster");
        const media::media_info p = co_await std::move(poster);
        if (auto ok = media::check_image(p, t.poster_width, t.poster_height); !ok) mismatch(ok.error());
        auto sprite = probe_output(scratch.out / layout::sprite, options, "the sprite");
        const media::media_info sp = co_await std::move(sprite);
        if (auto ok = media::check_image(sp, t.tile_width * t.columns, t.tile_height * t.rows); !ok) mismatch(ok.error());
        out.files.push_back({std::string(layout::poster), "poster", "", {}});
        out.files.push_back({std::string(layout::sprite), "sprite", "", {}});
        out.thumbnails = true;
    }
    co_return out;
}

namespace {

struct index_files {
    std::vector<std::pair<fs::path, std::string>> files;  // path, text
};

void write_all(const index_files& f) {
    for (const auto& [path, text] : f.files) {
        fs::create_directories(path.parent_path());
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out.write(text.data(), static_cast<std::streamsize>(text.size()));
        out.close();
        if (!out) throw std::runtime_error("cannot write " + path.string());
    }
}

}  // namespace

asio::awaitable<void> write_indexes(const transcode_plan& plan, const job_scratch& scratch, const transcode_request& req,
                                    transcode_outputs& outputs, asio::thread_pool& blocking) {
    index_files f;
    // The master playlist lists this job's renditions. A part of a fan-out (master: false) writes
    // none: the join writes the master from every part's result (media::variant_from_result).
    if (req.hls && req.master && !outputs.renditions.empty()) {
        const std::string master_key = req.output_prefix + std::string(layout::master);
        std::vector<media::variant> variants;
        for (const auto& d : outputs.renditions) {
            auto v = media::variant_from_result(d, master_key);
            if (!v) throw std::logic_error("rendition description without playlist: " + v.error().message);
            variants.push_back(std::move(*v));
        }
        f.files.emplace_back(scratch.out / layout::master, media::master_playlist(std::move(variants)));
        outputs.files.push_back({std::string(layout::master), "master", "", {}});
        outputs.master = true;
    }
    if (outputs.thumbnails) {
        f.files.emplace_back(scratch.out / layout::sprite_vtt,
                             media::sprite_vtt(*plan.request.thumbnails, "sprite.jpg", plan.request.source.duration));
        outputs.files.push_back({std::string(layout::sprite_vtt), "sprite_vtt", "", {}});
    }
    if (req.metadata) {
        json raw = plan.probe.raw;
        // ffprobe names the file it read: a scratch path of this worker, not for the world.
        if (raw["format"].is_object())
            raw["format"]["filename"] = req.source.key ? *req.source.key : req.source.path->filename().string();
        json wharf = media::derived_json(plan.request.source);
        wharf["renditions"] = outputs.renditions;
        wharf["skipped"] = json::array();
        for (const auto& sk : plan.skipped) wharf["skipped"].push_back({{"rung", sk.rung}, {"reason", sk.reason}});
        if (plan.request.thumbnails) {
            const auto& t = *plan.request.thumbnails;
            wharf["thumbnails"] = {{"interval", t.interval}, {"tiles", t.tiles}, {"columns", t.columns},
                                   {"rows", t.rows},         {"tile_width", t.tile_width}, {"tile_height", t.tile_height},
                                   {"poster_at", t.poster_at}};
        }
        wharf["keyframe_seconds"] = plan.settings.keyframe_seconds;
        wharf["segment_seconds"] = plan.settings.segment_seconds;
        wharf["hls_format"] = std::string(media::to_string(plan.settings.format));
        const json doc = {{"ffprobe", std::move(raw)}, {"wharf", std::move(wharf)}};
        f.files.emplace_back(scratch.out / layout::metadata, dump_json(doc, 2) + "\n");
        outputs.files.push_back({std::string(layout::metadata), "metadata", "", {}});
        outputs.metadata = true;
    }
    auto writing = offload(blocking.get_executor(), [f = std::move(f)] { write_all(f); });
    co_await std::move(writing);
}

namespace {

struct store_batch {
    std::vector<output_file*> files;
    std::size_t* done = nullptr;  // null: no "store" progress (stores during the encode)
    std::size_t total = 0;
};

struct file_digest {
    std::uint64_t size = 0;
    std::string sha256;
};

asio::awaitable<void> store_one(storage_services& s, const job_context& ctx, const transcode_request& req,
                                const fs::path& out_dir, output_file& f, store_batch& batch,
                                progress_reporter& progress) {
    const fs::path path = out_dir / f.path;
    auto hashing = offload(s.blocking_pool().get_executor(), [path] {
        return file_digest{fs::file_size(path), storage::sha256_file_hex(path)};
    });
    const file_digest digest = co_await std::move(hashing);
    store_request r{.file = path,
                    .size = digest.size,
                    .sha256 = digest.sha256,
                    .key = req.output_prefix + f.path,
                    .provider = req.provider,
                    .api_key = req.api_key,
                    .content_type = content_type_for_key(f.path),
                    .presign_expires = req.presign_expires};
    auto put = store_file(s, ctx, std::move(r));
    f.stored = co_await std::move(put);
    if (batch.done) progress("store", ++*batch.done, batch.total);
}

asio::awaitable<void> store_batch_of(storage_services& s, const job_context& ctx, const transcode_request& req,
                                     const fs::path& out_dir, store_batch& batch, std::size_t parallel,
                                     progress_reporter& progress) {
    // The first failure cancels the others; uploads in flight end (and are aborted) first.
    auto storing = for_each_bounded(batch.files.size(), parallel, [&](std::size_t i) {
        return store_one(s, ctx, req, out_dir, *batch.files[i], batch, progress);
    });
    co_await std::move(storing);
}

struct file_state {
    std::uint64_t size = 0;
    fs::file_time_type mtime;
};

// Size and modification time, or nullopt when the file is gone.
std::optional<file_state> state_of(const fs::path& path) {
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    if (ec) return std::nullopt;
    const auto mtime = fs::last_write_time(path, ec);
    if (ec) return std::nullopt;
    return file_state{size, mtime};
}

// Set when the encode is over (however it ended), to stop the segment stores' polling.
struct encode_signal {
    explicit encode_signal(const asio::any_io_executor& executor) : wake(executor) {}
    bool done = false;
    asio::steady_timer wake;
};

asio::awaitable<void> encode_then_signal(const transcode_plan& plan, const job_scratch& scratch,
                                         const transcode_settings& settings, progress_reporter& progress,
                                         encode_signal& signal) {
    struct on_exit {
        encode_signal& signal;
        ~on_exit() {
            signal.done = true;
            signal.wake.cancel();
        }
    } signal_at_exit{signal};
    auto encoding = encode(plan, scratch, settings, progress);
    co_await std::move(encoding);
}

// The finished segments not stored yet, as output files (read off the I/O thread).
asio::awaitable<std::vector<output_file>> unstored_finished_segments(asio::thread_pool& blocking, fs::path out_dir,
                                                                     std::vector<std::string> dirs,
                                                                     const early_store& early) {
    auto listing = offload(blocking.get_executor(), [out_dir, dirs] {
        std::vector<std::string> paths;
        for (const auto& dir : dirs) {
            std::vector<std::string> names;
            std::error_code ec;
            for (const auto& e : fs::directory_iterator(out_dir / dir, ec)) names.push_back(e.path().filename().string());
            for (const auto& name : layout::finished_segments(names)) paths.push_back(dir + "/" + name);
        }
        return paths;
    });
    const std::vector<std::string> paths = co_await std::move(listing);
    std::vector<output_file> files;
    for (const auto& path : paths)
        if (!early.files.contains(path)) files.push_back({path, "segment", "", {}});
    co_return files;
}

// Every `poll` until the encode is over: the finished segments stored. A storage failure ends
// the early stores (store_outputs does the rest), cancellation ends them at once.
asio::awaitable<void> store_segments_during_encode(storage_services& s, const job_context& ctx,
                                                   const transcode_request& req, const transcode_plan& plan,
                                                   const fs::path& out_dir, std::size_t parallel,
                                                   std::chrono::milliseconds poll, early_store& early,
                                                   encode_signal& signal, progress_reporter& progress) {
    while (!signal.done) {
        signal.wake.expires_after(poll);
        boost::system::error_code ec;
        co_await signal.wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        const asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
        if (state.cancelled() != asio::cancellation_type::none) co_return;
        if (signal.done) co_return;  // what is left (at least each folder's last segment) is store_outputs'
        auto finding = unstored_finished_segments(s.blocking_pool(), out_dir, plan.command.segment_dirs, early);
        std::vector<output_file> files = co_await std::move(finding);
        if (files.empty()) continue;
        std::vector<std::optional<file_state>> before;
        for (const auto& f : files) before.push_back(state_of(out_dir / f.path));
        store_batch batch;
        for (auto& f : files) batch.files.push_back(&f);
        std::exception_ptr failure;
        try {
            auto storing = store_batch_of(s, ctx, req, out_dir, batch, parallel, progress);
            co_await std::move(storing);
        } catch (...) {
            failure = std::current_exception();
        }
        for (std::size_t i = 0; i < files.size(); ++i)
            if (files[i].stored && before[i])
                early.files[files[i].path] = {before[i]->size, before[i]->mtime, std::move(*files[i].stored)};
        if (failure) {
            const asio::cancellation_state after = co_await asio::this_coro::cancellation_state;
            if (after.cancelled() != asio::cancellation_type::none) co_return;
            try {
                std::rethrow_exception(failure);
            } catch (const std::exception& e) {
                spdlog::warn("job {}: storing segments during the encode failed ({}); they are stored after it", ctx.id,
                             e.what());
            }
            co_return;
        }
    }
}

}  // namespace

asio::awaitable<void> encode_and_store_segments(storage_services& s, const job_context& ctx,
                                                const transcode_request& req, const transcode_plan& plan,
                                                const job_scratch& scratch, const transcode_settings& settings,
                                                progress_reporter& progress, early_store& early) {
    if (!settings.store_while_encoding || plan.nothing_to_encode || plan.command.segment_dirs.empty()) {
        auto encoding = encode(plan, scratch, settings, progress);
        co_await std::move(encoding);
        co_return;
    }
    const auto executor = co_await asio::this_coro::executor;
    encode_signal signal(executor);
    using namespace asio::experimental::awaitable_operators;
    auto encoding = encode_then_signal(plan, scratch, settings, progress, signal);
    auto storing = store_segments_during_encode(s, ctx, req, plan, scratch.out, settings.parallel_uploads,
                                                settings.segment_poll, early, signal, progress);
    // Both end before this returns; an encode failure cancels the stores and is rethrown.
    auto both = std::move(encoding) && std::move(storing);
    co_await std::move(both);
}

asio::awaitable<void> store_outputs(storage_services& s, const job_context& ctx, const transcode_request& req,
                                    const job_scratch& scratch, transcode_outputs& outputs, std::size_t parallel,
                                    progress_reporter& progress, early_store& early) {
    // What was stored during the encode and is unchanged since is taken as stored.
    for (auto& f : outputs.files) {
        const auto it = early.files.find(f.path);
        if (it == early.files.end()) continue;
        const auto now = state_of(scratch.out / f.path);
        if (!now || now->size != it->second.size || now->mtime != it->second.mtime) continue;
        f.stored = it->second.stored;
        ++early.reused;
    }
    // Media first, then the playlists that name them, then the master and the metadata: a reader
    // who finds an index finds what it points to.
    const auto stage_of = [](const output_file& f) {
        if (f.kind == "master" || f.kind == "metadata") return 2;
        return f.kind == "playlist" ? 1 : 0;
    };
    std::size_t done = early.reused;
    for (int stage = 0; stage < 3; ++stage) {
        store_batch batch;
        batch.done = &done;
        batch.total = outputs.files.size();
        for (auto& f : outputs.files)
            if (stage_of(f) == stage && !f.stored) batch.files.push_back(&f);
        auto storing = store_batch_of(s, ctx, req, scratch.out, batch, parallel, progress);
        co_await std::move(storing);
    }
}

json result_of(const transcode_plan& plan, const transcode_request& req, const transcode_outputs& outputs) {
    json r = {{"video_id", req.video_id},
              {"output_prefix", req.output_prefix},
              {"duration", plan.request.source.duration},
              {"renditions", outputs.renditions},
              {"skipped", json::array()},
              {"artifacts", json::array()},
              {"metadata", media::derived_json(plan.request.source)}};
    for (const auto& sk : plan.skipped) r["skipped"].push_back({{"rung", sk.rung}, {"reason", sk.reason}});
    const std::string& prefix = req.output_prefix;
    if (outputs.master) r["master_playlist_key"] = prefix + std::string(layout::master);
    if (outputs.mp3) r["audio_key"] = prefix + std::string(layout::audio_mp3);
    if (outputs.metadata) r["metadata_key"] = prefix + std::string(layout::metadata);
    if (outputs.thumbnails) {
        const auto& t = *plan.request.thumbnails;
        r["thumbnails"] = {{"poster_key", prefix + std::string(layout::poster)},
                           {"sprite_key", prefix + std::string(layout::sprite)},
                           {"vtt_key", prefix + std::string(layout::sprite_vtt)},
                           {"interval", t.interval},
                           {"tiles", t.tiles},
                           {"columns", t.columns},
                           {"rows", t.rows},
                           {"tile_width", t.tile_width},
                           {"tile_height", t.tile_height}};
    }
    for (const auto& f : outputs.files) {
        if (!f.stored) continue;
        json a = to_json(*f.stored);
        a["kind"] = f.kind;
        if (!f.rendition.empty()) a["rendition"] = f.rendition;
        if (f.kind == "segment" || f.kind == "init") {
            // One URL per segment is of no use to a player (it follows the playlist's relative
            // URIs) and would make a long video's result megabytes long.
            a.erase("presigned_url");
            a.erase("expires_in");
        }
        r["artifacts"].push_back(std::move(a));
    }
    return r;
}

}  // namespace wharf::worker::transcode_steps
