// The steps of a `transcode` job (transcode.hpp), each a named function the handler calls in
// order: scratch, fetch, probe, plan, encode, verify, index files, store, result. Internal to the
// job type; tests drive the whole job.
#pragma once

#include "storing.hpp"
#include "transcode.hpp"
#include "wharf/media/ffmpeg_command.hpp"
#include "wharf/media/probe.hpp"

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace wharf::worker::transcode_steps {

// The job's scratch folder: <scratch_dir>/transcode-<queue>-<id>+<random>, with out/ (ffmpeg's
// working directory) and, for a stored source, source (the download). Earlier runs' folders of
// the same job (a worker killed mid-transcode) are removed when it is made.
struct job_scratch {
    scratch_path root;
    std::filesystem::path out;
    std::filesystem::path download;
};
job_scratch make_scratch(const storage_job_options& options, const job_context& ctx);

// The source as a local file: the resolved local path, or the stored object downloaded into the
// scratch folder (its SHA-256 checked against the payload's).
boost::asio::awaitable<std::filesystem::path> fetch_source(storage_services& s, const transcode_request& req,
                                                           const job_scratch& scratch, progress_reporter& progress);

// ffprobe on the source, validated: what cannot be transcoded is a permanent_error with the reason.
boost::asio::awaitable<media::probe_report> probe_source(std::filesystem::path source,
                                                         const transcode_settings& settings, bool require_video);

struct transcode_plan {
    media::probe_report probe;
    std::vector<media::skipped_rung> skipped;
    media::encode_request request;    // what ffmpeg makes
    media::encode_settings settings;  // with the payload's overrides
    media::ffmpeg_command command;
    bool nothing_to_encode = false;   // e.g. a fan-out job for a rung the source is too small for
};
// Pure: the ladder, the thumbnails and the ffmpeg argv for this source and payload.
transcode_plan plan_outputs(media::probe_report probe, const std::filesystem::path& source,
                            const transcode_request& req, const transcode_settings& settings);

// One file to store: its path under scratch.out (= its key under the output prefix).
struct output_file {
    std::string path;
    std::string kind;  // "video", "playlist", "segment", "init", "master", "audio", "poster", ...
    std::string rendition;
    std::optional<stored_file> stored;
};

// Segments stored while ffmpeg was still writing the rest, for store_outputs to take as stored:
// each with the size and modification time it was hashed at, so a file that changed since (which
// ffmpeg does not do) is stored again rather than trusted.
struct early_store {
    struct entry {
        std::uint64_t size = 0;
        std::filesystem::file_time_type mtime;
        stored_file stored;
    };
    std::map<std::string, entry> files;  // by path under scratch.out
    std::size_t reused = 0;              // of them, how many store_outputs took as stored
};

// Runs the plan's ffmpeg in scratch.out, reporting progress as a percent of the probed duration.
// Throws permanent_error when the input is at fault, std::runtime_error when a retry may help
// (a stall, a signal from elsewhere); cancellation stops ffmpeg's group before it rethrows.
boost::asio::awaitable<void> encode(const transcode_plan& plan, const job_scratch& scratch,
                                    const transcode_settings& settings, progress_reporter& progress);

// encode(), and meanwhile, every settings.segment_poll, the HLS segments ffmpeg has finished (media::layout::
// finished_segments) stored `parallel` at a time into `early`: the uploads overlap the encode
// instead of following it. A storage failure here only stops the early stores (store_outputs
// stores what is left, and fails the job if it must); an encode failure cancels them. A job that
// fails after this step may leave those segments stored under its prefix; its retry replaces
// them. parallel 0: encode() alone.
boost::asio::awaitable<void> encode_and_store_segments(storage_services& s, const job_context& ctx,
                                                       const transcode_request& req, const transcode_plan& plan,
                                                       const job_scratch& scratch, const transcode_settings& settings,
                                                       progress_reporter& progress, early_store& early);

struct transcode_outputs {
    nlohmann::json renditions = nlohmann::json::array();  // descriptions (see transcode.hpp)
    std::vector<output_file> files;
    bool mp3 = false, master = false, thumbnails = false, metadata = false;
};

// Probes and checks every output against the plan (see wharf/media/verify.hpp), measures each
// rendition's bandwidth from its segments, and lists the files to store. Outputs that do not match
// are a permanent_error naming the output and ffmpeg's view of it.
// `blocking`: where file reads run (the storage services' pool).
boost::asio::awaitable<transcode_outputs> verify_outputs(const transcode_plan& plan, const job_scratch& scratch,
                                                         const transcode_request& req,
                                                         const transcode_settings& settings,
                                                         boost::asio::thread_pool& blocking);

// hls/master.m3u8, thumbnails/sprite.vtt and metadata.json, written into scratch.out.
boost::asio::awaitable<void> write_indexes(const transcode_plan& plan, const job_scratch& scratch,
                                           const transcode_request& req, transcode_outputs& outputs,
                                           boost::asio::thread_pool& blocking);

// Stores every file, `parallel` at a time, media before the playlists that name them and the
// master playlist last. A file in `early` that is unchanged since is not stored again.
boost::asio::awaitable<void> store_outputs(storage_services& s, const job_context& ctx, const transcode_request& req,
                                           const job_scratch& scratch, transcode_outputs& outputs,
                                           std::size_t parallel, progress_reporter& progress, early_store& early);

nlohmann::json result_of(const transcode_plan& plan, const transcode_request& req, const transcode_outputs& outputs);

}  // namespace wharf::worker::transcode_steps
