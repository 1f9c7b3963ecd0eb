// One transcode the way the `transcode` job does it, minus fetching the source and storing the
// outputs: ffprobe, the plan, the ONE ffmpeg (run through the child-process owner, its -progress
// parsed), the checks of every output (ffprobe on each, the playlists read back) and the index
// files. The job's own code (worker/jobs/transcode_steps.hpp) with the job's default settings,
// for bench/media/transcode.sh.
//
//   transcode_bench <source> <scratch dir> [x264 preset] [threads]
// Prints one JSON line: the phases' wall seconds and the files made.
#include "jobs/transcode_steps.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>

namespace asio = boost::asio;
namespace steps = wharf::worker::transcode_steps;
using wharf::worker::transcode_request;
using wharf::worker::transcode_settings;

namespace {

double since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

asio::awaitable<nlohmann::json> transcode(const transcode_settings& settings, const transcode_request& req,
                                          const wharf::worker::storage_job_options& options, asio::thread_pool& blocking) {
    wharf::worker::job_context ctx;
    ctx.id = "bench";
    ctx.queue = "transcode";
    wharf::worker::progress_reporter progress({});
    nlohmann::json phases;
    const auto t0 = std::chrono::steady_clock::now();
    const steps::job_scratch scratch = steps::make_scratch(options, ctx);

    auto probing = steps::probe_source(*req.source.path, settings, false);
    auto probe = co_await std::move(probing);
    const steps::transcode_plan plan = steps::plan_outputs(std::move(probe), *req.source.path, req, settings);
    phases["probe_and_plan_s"] = since(t0);

    const auto t1 = std::chrono::steady_clock::now();
    auto encoding = steps::encode(plan, scratch, settings, progress);
    co_await std::move(encoding);
    phases["encode_s"] = since(t1);

    const auto t2 = std::chrono::steady_clock::now();
    auto verifying = steps::verify_outputs(plan, scratch, req, settings, blocking);
    steps::transcode_outputs outputs = co_await std::move(verifying);
    auto indexing = steps::write_indexes(plan, scratch, req, outputs, blocking);
    co_await std::move(indexing);
    phases["verify_and_index_s"] = since(t2);
    phases["total_s"] = since(t0);
    phases["files"] = outputs.files.size();
    std::size_t media = 0;  // what the other ways make too: not the master, the WebVTT, metadata.json
    for (const auto& f : outputs.files) media += f.kind != "master" && f.kind != "sprite_vtt" && f.kind != "metadata";
    phases["media_files"] = media;
    phases["argv"] = plan.command.argv;
    co_return phases;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fputs("usage: transcode_bench <source> <scratch dir> [x264 preset] [threads]\n", stderr);
        return 2;
    }
    transcode_settings settings;  // the job's defaults: 360p + 720p, HLS fMP4 4 s, keyframes 2 s
    if (argc > 3) settings.encode.preset = argv[3];
    if (argc > 4) settings.encode.threads = std::stoi(argv[4]);
    transcode_request req;
    req.source.path = std::filesystem::absolute(argv[1]);
    req.video_id = "bench";
    req.output_prefix = "processed/bench/";
    wharf::worker::storage_job_options options;
    options.scratch_dir = argv[2];

    asio::io_context io;
    asio::thread_pool blocking(1);
    try {
        auto done = asio::co_spawn(io, transcode(settings, req, options, blocking), asio::use_future);
        io.run();
        std::cout << done.get().dump() << "\n";
    } catch (const std::exception& e) {
        std::fprintf(stderr, "transcode_bench: %s\n", e.what());
        return 1;
    }
    blocking.join();
    return 0;
}
