// wharf-chaos-soak: a fleet of real wharf-worker processes on a mixed load (noop, sleep, fail,
// uploads to moto through the fault proxy) while workers are killed with -9, Redis is killed and
// restarted (AOF, appendfsync everysec), PostgreSQL is stopped immediately and restarted and the
// network stalls; then, once the fleet has drained, the checks of tests/chaos/README.md.
//
//   wharf-chaos-soak [--minutes 2] [--seed N] [--workers 3] [--immortal 1] [--drain-timeout 180]
//                    [--jobs-per-second 25] [--uploads-per-second 0.5] [--artifacts DIR]
//
// Exit status 0 when every check passed, 1 when one failed, 2 on bad usage or a set-up failure.
#include "fleet.hpp"
#include "job_mix.hpp"
#include "report.hpp"

#include "wharf/queue/keys.hpp"
#include "wharf/test/fault_proxy.hpp"
#include "wharf/test/moto_server.hpp"
#include "wharf/test/storage_data.hpp"

#include <fmt/format.h>
#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <future>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <signal.h>

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;
using steady = std::chrono::steady_clock;
using wharf::chaos::job_kind;
using wharf::chaos::planned_job;

namespace {

constexpr std::uint64_t MiB = 1ull << 20;
const std::vector<std::string> queues = {"noop", "sleep", "fail", "upload", "pipeline", "transcode", "publish"};
const std::vector<std::string> tenants = {"tenant-a", "tenant-b", "tenant-c"};
constexpr const char* bucket = "media";
constexpr const char* provider = "moto";

struct options {
    double minutes = 2;
    std::uint64_t seed = 0;
    int mortal = 3;    // workers killed at random
    int immortal = 1;  // workers never killed: the long-lived ones whose RSS is judged
    std::chrono::seconds drain{180};
    double jobs_per_second = 25;
    double uploads_per_second = 0.5;
    double pipelines_per_second = 0.1;
    fs::path artifacts;
    bool strict_orphans = false;  // count uploads left by the create-to-record window as failures
};

[[noreturn]] void usage(const std::string& why) {
    std::cerr << "wharf-chaos-soak: " << why
              << "\nusage: wharf-chaos-soak [--minutes N] [--seed N] [--workers N] [--immortal N] "
                 "[--drain-timeout S] [--jobs-per-second R] [--uploads-per-second R] [--pipelines-per-second R] "
                 "[--artifacts DIR] "
                 "[--strict-orphans yes]\n";
    std::exit(2);
}

options parse(int argc, char** argv) {
    options o;
    o.seed = std::random_device{}();
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--help" || a == "-h") usage("a chaos soak of the wharf fleet (see tests/chaos/README.md)");
        if (i + 1 >= argc) usage(a + " needs a value");
        const std::string v = argv[++i];
        try {
            if (a == "--minutes")
                o.minutes = std::stod(v);
            else if (a == "--seed")
                o.seed = std::stoull(v);
            else if (a == "--workers")
                o.mortal = std::stoi(v);
            else if (a == "--immortal")
                o.immortal = std::stoi(v);
            else if (a == "--drain-timeout")
                o.drain = std::chrono::seconds(std::stoi(v));
            else if (a == "--jobs-per-second")
                o.jobs_per_second = std::stod(v);
            else if (a == "--uploads-per-second")
                o.uploads_per_second = std::stod(v);
            else if (a == "--pipelines-per-second")
                o.pipelines_per_second = std::stod(v);
            else if (a == "--artifacts")
                o.artifacts = v;
            else if (a == "--strict-orphans")
                o.strict_orphans = v == "1" || v == "yes" || v == "true";
            else
                usage("unknown option " + a);
        } catch (const std::logic_error&) {
            usage("bad value for " + a + ": " + v);
        }
    }
    if (o.minutes <= 0 || o.mortal < 1 || o.immortal < 0 || o.mortal + o.immortal < 3 || o.jobs_per_second <= 0 ||
        o.uploads_per_second < 0 || o.pipelines_per_second < 0)
        usage("out-of-range value (the fleet needs 3+ workers, at least one of them mortal)");
    return o;
}

double seconds_since(steady::time_point t) {
    return std::chrono::duration<double>(steady::now() - t).count();
}

void say(steady::time_point t0, const std::string& what) {
    std::cout << fmt::format("[{:7.1f}s] {}", seconds_since(t0), what) << std::endl;
}

// ---- the fleet's workers, as the chaos thread starts and kills them ------------------------------

struct worker_slot {
    std::size_t log_index = 0;  // fleet::worker_log(index)
    wharf::test::process* proc = nullptr;
    pid_t pid = 0;
    bool immortal = false;
    steady::time_point started;
    bool ended = false, killed_by_us = false;
    int exit_status = 0;
    std::vector<wharf::chaos::rss_sample> samples;
};

class workers {
public:
    workers(wharf::test::fleet& f, std::vector<std::string> flags, std::map<std::string, std::string> env)
        : fleet_(f), flags_(std::move(flags)), env_(std::move(env)) {}

    void start(bool immortal) {
        std::lock_guard lock(mutex_);
        auto& p = fleet_.start_worker(flags_, env_);
        worker_slot s;
        s.log_index = slots_.size();
        s.proc = &p;
        s.pid = p.pid();
        s.immortal = immortal;
        s.started = steady::now();
        slots_.push_back(std::move(s));
    }

    // kill -9 of a random live mortal worker; returns its pid (0: none alive).
    pid_t kill_random(std::mt19937_64& rng) {
        std::lock_guard lock(mutex_);
        std::vector<worker_slot*> live;
        for (auto& s : slots_)
            if (!s.ended && !s.immortal) live.push_back(&s);
        if (live.empty()) return 0;
        auto* s = live[std::uniform_int_distribution<std::size_t>(0, live.size() - 1)(rng)];
        s->killed_by_us = true;
        s->proc->kill_hard();
        s->ended = true;
        s->exit_status = 128 + SIGKILL;
        return s->pid;
    }

    // Workers that exited without being told to (a crash): marked ended, returned, and replaced.
    std::vector<std::string> reap_unexpected() {
        std::vector<std::string> out;
        std::vector<bool> replace;
        {
            std::lock_guard lock(mutex_);
            for (auto& s : slots_) {
                if (s.ended || s.proc->running()) continue;
                s.ended = true;
                s.exit_status = s.proc->wait(0ms).value_or(-1);
                out.push_back(fmt::format("worker {} (pid {}) exited on its own with status {} after {:.1f}s",
                                          s.log_index, s.pid, s.exit_status, seconds_since(s.started)));
                replace.push_back(s.immortal);
            }
        }
        for (bool immortal : replace) start(immortal);
        return out;
    }

    void sample_rss() {
        std::lock_guard lock(mutex_);
        for (auto& s : slots_) {
            if (s.ended) continue;
            std::istringstream in(wharf::test::read_proc_file("/proc/" + std::to_string(s.pid) + "/status"));
            std::string line;
            wharf::chaos::rss_sample sample;
            sample.at = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - s.started);
            bool got = false;
            while (std::getline(in, line)) {
                if (line.starts_with("VmRSS:")) sample.rss_kib = std::stoull(line.substr(6)), got = true;
                if (line.starts_with("RssAnon:")) sample.anon_kib = std::stoull(line.substr(8));
            }
            if (got) s.samples.push_back(sample);
        }
    }

    // SIGTERM to every live worker and wait; returns "worker N: status" for those that did not
    // exit 0 within `limit`.
    std::vector<std::string> stop_all(std::chrono::seconds limit) {
        std::lock_guard lock(mutex_);
        for (auto& s : slots_)
            if (!s.ended) s.proc->signal(SIGTERM);
        std::vector<std::string> bad;
        for (auto& s : slots_) {
            if (s.ended) continue;
            const auto st = s.proc->wait(limit);
            s.ended = true;
            s.exit_status = st.value_or(-1);
            if (!st) s.proc->kill_hard();
            if (s.exit_status != 0)
                bad.push_back(fmt::format("worker {} (pid {}): {}", s.log_index, s.pid,
                                          st ? "exit status " + std::to_string(*st) : std::string("still running")));
        }
        return bad;
    }

    std::size_t live() {
        std::lock_guard lock(mutex_);
        return static_cast<std::size_t>(std::count_if(slots_.begin(), slots_.end(), [](auto& s) { return !s.ended; }));
    }
    std::vector<worker_slot> snapshot() {
        std::lock_guard lock(mutex_);
        return slots_;
    }

private:
    wharf::test::fleet& fleet_;
    std::vector<std::string> flags_;
    std::map<std::string, std::string> env_;
    std::mutex mutex_;
    std::vector<worker_slot> slots_;
};

// ---- what happened ---------------------------------------------------------------------------------

struct figures {
    std::atomic<int> kills{0}, redis_restarts{0}, pg_restarts{0}, stalls{0};
    std::atomic<int> xadd_unknown{0};  // XADDs whose outcome is unknown (no reply): not counted as acked
    std::atomic<int> xadd_retries{0};
};

// ---- the fault proxy's rule: background faults, plus stall windows the chaos thread opens ---------

struct network_faults {
    std::atomic<bool> enabled{true};
    std::atomic<std::int64_t> stall_until_ms{0};  // steady clock, ms
    std::mt19937_64 rng;                          // used on the proxy's thread only

    explicit network_faults(std::uint64_t seed) : rng(seed) {}

    static std::int64_t now_ms() {
        return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now().time_since_epoch()).count();
    }

    wharf::test::fault decide(const wharf::test::request_info& r) {
        using wharf::test::fault;
        if (!enabled) return {};
        // A stalled network: every request waits until the window closes. The window is shorter
        // than the provider's per-step timeout (8 s), so the client still gets its answer; a
        // request the client gave up on would otherwise land later and open uploads nobody knows.
        if (const auto left = stall_until_ms - now_ms(); left > 0)
            return fault::stall_for(std::chrono::milliseconds(left));
        const double p = std::uniform_real_distribution<double>(0, 1)(rng);
        // Resets only mid-body: a request with no body that is reset after its head reached the
        // server (CreateMultipartUpload) would be done by the server with its answer lost, which
        // no client can tell from "not done" (see README.md: unrecorded orphans).
        if (p < 0.015 && r.content_length > 0) return fault::reset();
        if (p < 0.03) return fault::stall_for(1500ms);
        if (p < 0.04) return fault::slow_down();
        return {};
    }
};

// ---- checks ------------------------------------------------------------------------------------------

struct job_row {
    std::string queue, status, error;
    int attempts = 0, max_attempts = 0;
    std::int64_t epoch = 0;
    std::string parent_id;
};

std::map<std::string, job_row> read_jobs(const std::string& url) {
    pqxx::connection c{url};
    pqxx::nontransaction tx{c};
    std::map<std::string, job_row> out;
    for (const auto& r :
         tx.exec("SELECT id, queue, status, attempts, max_attempts, epoch, coalesce(error, ''), "
                 "coalesce(parent_id, '') FROM jobs")) {
        job_row j{r[1].as<std::string>(), r[2].as<std::string>(), r[6].as<std::string>(),
                  r[3].as<int>(),         r[4].as<int>(),         r[5].as<std::int64_t>(),
                  r[7].as<std::string>()};
        out.emplace(r[0].as<std::string>(), std::move(j));
    }
    return out;
}

bool is_final(const std::string& status) {
    return status == "succeeded" || status == "failed" || status == "dead" || status == "cancelled";
}

// Adds "first few offenders" lines.
void offenders(wharf::chaos::check_result& c, const std::vector<std::string>& bad, std::size_t shown = 12) {
    for (std::size_t i = 0; i < bad.size() && i < shown; ++i) c.details.push_back(bad[i]);
    if (bad.size() > shown) c.details.push_back(fmt::format("... and {} more", bad.size() - shown));
}

std::vector<fs::path> leftover_files(const std::vector<fs::path>& roots) {
    std::vector<fs::path> out;
    for (const auto& root : roots) {
        std::error_code ec;
        for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
             it.increment(ec)) {
            const auto name = it->path().filename().string();
            if (name.starts_with(".wharf-tmp-") || (name.starts_with("upload-") && name.ends_with(".part")))
                out.push_back(it->path());
        }
    }
    return out;
}

// What is left in a scratch folder once every job is final: anything (a job's scratch file or
// folder is removed when it ends, however it ends; one a killed worker left is removed by the
// job's next run on the host).
std::vector<fs::path> entries_of(const fs::path& dir) {
    std::vector<fs::path> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) out.push_back(e.path());
    return out;
}

// Processes still alive that carry this run's marker in their environment (the workers' children
// inherit it): an ffmpeg, ffprobe or anything else a worker started and left behind.
std::vector<std::string> marked_processes(const std::string& marker) {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/proc", ec)) {
        const auto pid = e.path().filename().string();
        if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
        const std::string text = wharf::test::read_proc_file(e.path() / "environ");
        if (text.find(marker) == std::string::npos) continue;
        std::string name = wharf::test::read_proc_file(e.path() / "comm");
        if (!name.empty() && name.back() == '\n') name.pop_back();
        out.push_back(pid + " " + name);
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    const options opt = parse(argc, argv);
    // The fixtures' own Redis client logs every reconnect attempt; the soak's timeline says enough.
    spdlog::set_level(spdlog::level::err);
    // Run by hand (not by ctest): the fixtures find the build and source trees from these.
    ::setenv("WHARF_SOURCE_DIR", WHARF_CHAOS_SOURCE_DIR, 0);
    ::setenv("WHARF_BINARY_DIR", WHARF_CHAOS_BINARY_DIR, 0);
    const auto t0 = steady::now();
    const auto load_for =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::duration<double>(opt.minutes * 60));
    std::cout << fmt::format("wharf chaos soak: seed {}, {:.1f} min of load, {} mortal + {} immortal workers", opt.seed,
                             opt.minutes, opt.mortal, opt.immortal)
              << std::endl;

    wharf::chaos::report rep;
    figures fig;
    std::mt19937_64 chaos_rng(opt.seed);
    const std::string marker = fmt::format("WHARF_CHAOS_RUN=soak-{}-{}", opt.seed, ::getpid());

    try {
        wharf::test::temp_dir work("wharf-chaos");
        const auto sources_dir = work.path() / "sources", scratch_dir = work.path() / "scratch";
        fs::create_directories(sources_dir);
        fs::create_directories(scratch_dir);

        // Sources: small single PUTs to multipart ones (threshold 5 MiB, parts of 5 MiB).
        std::vector<wharf::chaos::source_file> sources;
        const std::uint64_t sizes[] = {1'000, 20 * 1024 + 3, 300 * 1024, MiB + 1, 2 * MiB, 6 * MiB + 17, 11 * MiB + 5};
        for (std::size_t i = 0; i < std::size(sizes); ++i) {
            const auto p = sources_dir / fmt::format("src-{}.bin", i);
            wharf::test::spill(p, wharf::test::random_bytes(sizes[i], opt.seed + i));
            sources.push_back({p, sizes[i]});
        }

        // Pipelines' sources: two short clips ffmpeg makes (a pipeline transcodes one rendition at
        // the clip's own size: the ladder's rungs are all above it).
        std::vector<fs::path> clips;
        for (int i = 0; i < 2; ++i) {
            const auto clip = sources_dir / fmt::format("clip-{}.mp4", i);
            const auto r = wharf::test::run(
                {"ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-threads", "1", "-f", "lavfi", "-i",
                 fmt::format("{}=size=320x240:rate=25:duration=2", i == 0 ? "testsrc2" : "testsrc"), "-f", "lavfi",
                 "-i", fmt::format("sine=frequency={}:duration=2", 300 + 200 * i), "-c:v", "libx264", "-preset",
                 "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", clip.string()},
                {}, 120s);
            if (r.status != 0) throw std::runtime_error("making a clip failed: " + r.output);
            clips.push_back(clip);
        }

        wharf::test::moto_server moto;
        moto.create_bucket(bucket);
        network_faults net(opt.seed ^ 0x5eedULL);  // before the proxy, whose rule uses it
        wharf::test::fault_proxy proxy(moto.port());
        proxy.set_rule([&net](const wharf::test::request_info& r) { return net.decide(r); });

        wharf::test::fleet f({.appendonly = true, .appendfsync = "everysec"}, {.synchronous_commit = true});
        say(t0, fmt::format("redis :{} (AOF everysec), postgres :{} (synchronous_commit on), moto :{} via proxy :{}",
                            f.redis().port(), f.postgres().port(), moto.port(), proxy.port()));

        const json providers = {{"providers",
                                 {{{"name", provider},
                                   {"kind", "s3"},
                                   {"profile", "generic"},
                                   {"endpoint", "http://127.0.0.1:" + std::to_string(proxy.port())},
                                   {"region", "us-east-1"},
                                   {"bucket", bucket},
                                   {"access_key_id", "testing"},
                                   {"secret_access_key", "testing"},
                                   {"limit", "1TiB"},
                                   {"multipart_threshold", "5MiB"},
                                   {"part_size", "5MiB"},
                                   {"timeout", "8s"}}}}};
        const std::vector<std::string> flags{"--queues",
                                             "noop=8,sleep=8,fail=4,upload=2,pipeline=2,transcode=1,publish=2",
                                             "--transcode-preset",
                                             "ultrafast",
                                             "--transcode-threads",
                                             "1",
                                             "--lease",
                                             "2s",
                                             "--sweep",
                                             "250ms",
                                             "--grace",
                                             "5s",
                                             "--storage-providers",
                                             providers.dump(),
                                             "--scratch-dir",
                                             scratch_dir.string(),
                                             "--local-source-roots",
                                             sources_dir.string(),
                                             // Many workers on one host: each its own admin port.
                                             "--admin-listen",
                                             "127.0.0.1:0"};
        const auto eq = marker.find('=');
        workers fleet_workers(f, flags, {{marker.substr(0, eq), marker.substr(eq + 1)}});
        for (int i = 0; i < opt.immortal; ++i) fleet_workers.start(true);
        for (int i = 0; i < opt.mortal; ++i) fleet_workers.start(false);

        // ---- load, chaos and sampling run together until the load ends ----
        std::mutex jobs_mutex;
        std::vector<planned_job> jobs;
        std::atomic<bool> load_on{true}, sampling{true};
        std::vector<std::string> crashes;
        const auto load_start = steady::now();
        const auto load_end = load_start + load_for;
        say(t0, "load and chaos start");

        std::thread producer([&] {
            wharf::chaos::job_mix mix(opt.seed, "soak", sources, tenants);
            const auto diag_every = std::chrono::duration<double>(1.0 / opt.jobs_per_second);
            double upload_credit = 0, pipeline_credit = 0;
            auto next = steady::now();
            while (steady::now() < load_end) {
                std::vector<planned_job> batch{mix.next_diagnostic()};
                upload_credit += opt.uploads_per_second / opt.jobs_per_second;
                if (upload_credit >= 1) {
                    upload_credit -= 1;
                    batch.push_back(mix.next_upload(provider));
                }
                pipeline_credit += opt.pipelines_per_second / opt.jobs_per_second;
                if (pipeline_credit >= 1) {
                    pipeline_credit -= 1;
                    batch.push_back(mix.next_pipeline(clips));
                }
                for (auto& j : batch) {
                    // Retried on an error reply (LOADING while Redis replays its AOF); fleet::cmd
                    // itself retries I/O errors, which may enqueue the same envelope twice: the
                    // duplicate-id rule must then run it once.
                    for (int attempt = 0; attempt < 100 && !j.acked; ++attempt) {
                        try {
                            const auto r = f.cmd(
                                {"XADD", wharf::queue::keys{queue_of(j.kind)}.stream, "*", "job", j.envelope.dump()});
                            if (!r.is_error()) {
                                j.acked = true;
                                break;
                            }
                        } catch (const std::exception&) {
                            // No reply: the entry may or may not be there.
                        }
                        ++fig.xadd_retries;
                        std::this_thread::sleep_for(100ms);
                    }
                    if (!j.acked) ++fig.xadd_unknown;
                    std::lock_guard lock(jobs_mutex);
                    jobs.push_back(std::move(j));
                }
                next += std::chrono::duration_cast<steady::duration>(diag_every);
                std::this_thread::sleep_until(next);
                if (steady::now() > next + 1s) next = steady::now();  // after an outage, do not burst
            }
        });

        std::thread sampler([&] {
            while (sampling) {
                fleet_workers.sample_rss();
                std::this_thread::sleep_for(500ms);
            }
        });
        // An exception before the sampler is joined must not leave it joinable (std::terminate).
        struct stop_sampler {
            std::atomic<bool>& on;
            std::thread& t;
            ~stop_sampler() {
                on = false;
                if (t.joinable()) t.join();
            }
        } sampler_guard{sampling, sampler};

        std::string monkey_error;
        // The servers the monkey restarts die with the thread that started them (redis_server runs
        // under `setpriv --pdeathsig`, which follows the starting thread), so the monkey thread
        // lives until the soak ends: it reports the end of the chaos, then waits to be released.
        std::promise<void> chaos_over;
        std::atomic<bool> release_monkey{false};
        std::thread monkey([&] {
            try {
                auto uniform = [&](double lo, double hi) {
                    return std::chrono::duration_cast<steady::duration>(
                        std::chrono::duration<double>(std::uniform_real_distribution<double>(lo, hi)(chaos_rng)));
                };
                auto now = steady::now();
                auto next_kill = now + uniform(1, 3), next_redis = now + uniform(10, 20),
                     next_pg = now + uniform(15, 25), next_stall = now + uniform(5, 12);
                while ((now = steady::now()) < load_end) {
                    for (auto& c : fleet_workers.reap_unexpected()) {
                        say(t0, "UNEXPECTED: " + c);
                        crashes.push_back(c);
                    }
                    if (now >= next_kill) {
                        if (const auto pid = fleet_workers.kill_random(chaos_rng)) {
                            ++fig.kills;
                            fleet_workers.start(false);
                            (void)pid;
                        }
                        next_kill = steady::now() + uniform(1, 3);
                    } else if (now >= next_redis) {
                        say(t0, "redis: kill -9");
                        f.redis().kill();
                        std::this_thread::sleep_for(uniform(0.2, 1.5));
                        f.redis().start();
                        ++fig.redis_restarts;
                        say(t0, "redis: back (AOF replayed)");
                        next_redis = steady::now() + uniform(15, 30);
                    } else if (now >= next_pg) {
                        say(t0, "postgres: immediate stop");
                        f.postgres().stop_immediate();
                        std::this_thread::sleep_for(uniform(0.2, 1.5));
                        f.postgres().start();
                        ++fig.pg_restarts;
                        say(t0, "postgres: back (crash recovery done)");
                        next_pg = steady::now() + uniform(20, 35);
                    } else if (now >= next_stall) {
                        const auto length = uniform(2, 4);
                        net.stall_until_ms = network_faults::now_ms() +
                                             std::chrono::duration_cast<std::chrono::milliseconds>(length).count();
                        ++fig.stalls;
                        say(t0,
                            fmt::format("network: stalled for {:.1f}s", std::chrono::duration<double>(length).count()));
                        next_stall = steady::now() + length + uniform(6, 14);
                    }
                    std::this_thread::sleep_for(50ms);
                }
            } catch (const std::exception& e) {
                monkey_error = e.what();  // a server that would not come back: reported as a failure
            }
            chaos_over.set_value();
            while (!release_monkey) std::this_thread::sleep_for(20ms);
        });
        struct release_guard {
            std::atomic<bool>& release;
            std::thread& t;
            ~release_guard() {
                release = true;
                if (t.joinable()) t.join();
            }
        } monkey_guard{release_monkey, monkey};

        producer.join();
        chaos_over.get_future().wait();
        say(t0,
            fmt::format("load stops: {} jobs enqueued, {} kills, {} redis restarts, {} postgres restarts, {} stalls",
                        jobs.size(), fig.kills.load(), fig.redis_restarts.load(), fig.pg_restarts.load(),
                        fig.stalls.load()));

        // ---- drain: no more faults; wait (bounded) until every job is final and Redis is empty ----
        net.enabled = false;
        const auto drain_start = steady::now();
        std::set<std::string> acked_ids;
        for (const auto& j : jobs)
            if (j.acked) acked_ids.insert(j.id);
        bool drained = false;
        std::string drain_state;
        while (seconds_since(drain_start) < static_cast<double>(opt.drain.count())) {
            for (auto& c : fleet_workers.reap_unexpected()) {
                say(t0, "UNEXPECTED: " + c);
                crashes.push_back(c);
            }
            std::size_t final_acked = 0, not_final = 0;
            for (const auto& [id, row] : read_jobs(f.postgres().url())) {
                if (!is_final(row.status))
                    ++not_final;
                else if (acked_ids.count(id))
                    ++final_acked;
            }
            std::int64_t in_redis = 0;
            for (const auto& q : queues)
                in_redis += f.stream_length(q) + f.delayed(q) + std::max<std::int64_t>(f.pending(q), 0);
            drain_state = fmt::format("{} of {} acknowledged jobs final, {} rows not final, {} entries in Redis",
                                      final_acked, acked_ids.size(), not_final, in_redis);
            if (final_acked == acked_ids.size() && not_final == 0 && in_redis == 0) {
                drained = true;
                break;
            }
            std::this_thread::sleep_for(1s);
        }
        const double drain_s = seconds_since(drain_start);
        say(t0, fmt::format("drain {} after {:.1f}s: {}", drained ? "done" : "TIMED OUT", drain_s, drain_state));
        sampling = false;
        if (sampler.joinable()) sampler.join();
        const auto unclean = fleet_workers.stop_all(15s);
        const auto slots = fleet_workers.snapshot();

        // ---- checks ----
        {
            auto& c = rep.add("the chaos happened (each job type enqueued; kills, restarts and stalls done)");
            std::map<job_kind, int> by_kind;
            for (const auto& j : jobs)
                if (j.acked) ++by_kind[j.kind];
            if (!monkey_error.empty()) c.details.push_back("the chaos thread failed: " + monkey_error);
            c.passed = monkey_error.empty() && by_kind.size() == 5 && fig.kills > 0 && fig.redis_restarts > 0 &&
                       fig.pg_restarts > 0 && fig.stalls > 0;
            c.details.push_back(
                fmt::format("acknowledged: noop {}, sleep {}, fail {}, upload {}, pipeline {}; outcome unknown: {}; "
                            "XADD retries: {}",
                            by_kind[job_kind::noop], by_kind[job_kind::sleep], by_kind[job_kind::fail],
                            by_kind[job_kind::upload], by_kind[job_kind::pipeline], fig.xadd_unknown.load(),
                            fig.xadd_retries.load()));
            c.details.push_back(
                fmt::format("worker kills (-9): {}, redis kill -9 + restart: {}, postgres immediate "
                            "stop + start: {}, network stalls: {}, proxy faults injected: {} of {} "
                            "requests",
                            fig.kills.load(), fig.redis_restarts.load(), fig.pg_restarts.load(), fig.stalls.load(),
                            proxy.faults_injected(), proxy.requests()));
        }

        const auto rows = read_jobs(f.postgres().url());
        std::map<std::string, const planned_job*> planned;
        for (const auto& j : jobs) planned[j.id] = &j;
        {
            auto& c = rep.add("every acknowledged job is final exactly once, in the state its kind expects");
            std::vector<std::string> bad;
            std::map<std::string, int> statuses;
            std::size_t steps = 0;
            for (const auto& [id, row] : rows) {
                ++statuses[row.queue + "/" + row.status];
                const auto p = planned.find(id);
                if (p == planned.end()) {
                    // A pipeline's step: every one must have succeeded, as its pipeline did.
                    const auto parent = planned.find(row.parent_id);
                    if (parent != planned.end() && parent->second->kind == job_kind::pipeline) {
                        ++steps;
                        if (row.status != "succeeded")
                            bad.push_back(fmt::format("{}: step of pipeline {} is {} in {} (error: {})", id,
                                                      row.parent_id, row.status, row.queue, row.error));
                        continue;
                    }
                    bad.push_back(fmt::format("{}: a row for a job nobody enqueued ({})", id, row.status));
                    continue;
                }
                const auto& j = *p->second;
                const auto want = wharf::chaos::expected_outcome(j);
                if (row.queue != queue_of(j.kind) || !want.statuses.count(row.status))
                    bad.push_back(fmt::format("{}: {} in queue {} (error: {})", id, row.status, row.queue, row.error));
            }
            for (const auto& id : acked_ids)
                if (!rows.count(id)) bad.push_back(id + ": acknowledged by Redis, no row in PostgreSQL (lost)");
            // The dead-letter stream: each dead job there once, and no other job.
            std::map<std::string, int> dead_seen;
            for (const auto& q : queues)
                for (const auto& e : f.dead_entries(q)) ++dead_seen[e.count("id") ? e.at("id") : "?"];
            for (const auto& [id, n] : dead_seen) {
                const auto r = rows.find(id);
                if (n != 1 || r == rows.end() || r->second.status != "dead")
                    bad.push_back(fmt::format("{}: {} dead-letter entries, row {}", id, n,
                                              r == rows.end() ? "missing" : r->second.status));
            }
            for (const auto& [id, row] : rows)
                if (row.status == "dead" && !dead_seen.count(id))
                    bad.push_back(id + ": dead with no dead-letter entry");
            c.passed = bad.empty() && !acked_ids.empty();
            std::string s;
            for (const auto& [k, n] : statuses) s += fmt::format("{} {}, ", k, n);
            c.details.push_back(fmt::format(
                "{} rows for {} acknowledged jobs ({} more enqueued with no reply) and {} pipeline steps; {}", rows.size(),
                acked_ids.size(), jobs.size() - acked_ids.size(), steps, s));
            std::int64_t dups = 0;
            for (const auto& q : queues) dups += f.stat(q, "duplicates");
            c.details.push_back(fmt::format("dead-letter entries: {}; duplicates acknowledged without a run: {}",
                                            dead_seen.size(), dups));
            offenders(c, bad);
        }
        {
            auto& c = rep.add("nothing left in Redis (stream, pending, delayed) and no row running or queued");
            std::vector<std::string> bad;
            for (const auto& q : queues) {
                const auto len = f.stream_length(q), pend = f.pending(q), del = f.delayed(q);
                if (len != 0 || pend != 0 || del != 0)
                    bad.push_back(fmt::format("{}: {} in the stream, {} pending, {} delayed", q, len, pend, del));
            }
            std::size_t open = 0;
            for (const auto& [id, row] : rows)
                if (!is_final(row.status)) {
                    ++open;
                    bad.push_back(
                        fmt::format("{}: {} (attempt {}, epoch {})", id, row.status, row.attempts, row.epoch));
                }
            c.passed = bad.empty() && drained;
            c.details.push_back(
                fmt::format("drained in {:.1f}s (bound {}s); rows not final: {}", drain_s, opt.drain.count(), open));
            offenders(c, bad);
        }
        {
            auto& c = rep.add("attempts and epochs consistent");
            std::vector<std::string> bad;
            std::size_t taken_over = 0, retried = 0;
            for (const auto& [id, row] : rows) {
                const auto p = planned.find(id);
                if (p == planned.end()) continue;
                const auto& j = *p->second;
                const auto want = wharf::chaos::expected_outcome(j);
                if (row.epoch > row.attempts) ++taken_over;
                if (row.attempts > 1) ++retried;
                std::string why;
                if (row.max_attempts != j.max_attempts)
                    why = fmt::format("max_attempts {} (enqueued {})", row.max_attempts, j.max_attempts);
                else if (row.attempts < 1 || row.attempts > row.max_attempts)
                    why = "attempts out of [1, max_attempts]";
                else if (row.epoch < 1 || row.epoch < row.attempts)
                    why = "epoch below attempts (each attempt is a take)";
                else if (row.attempts < want.min_attempts || row.attempts > want.max_attempts)
                    why = fmt::format("attempts {} where {}..{} expected (fail_attempts {})", row.attempts,
                                      want.min_attempts, want.max_attempts, j.fail_attempts);
                if (!why.empty())
                    bad.push_back(fmt::format("{} ({}): attempts {}, max {}, epoch {}: {}", id, row.status,
                                              row.attempts, row.max_attempts, row.epoch, why));
            }
            c.passed = bad.empty();
            c.details.push_back(
                fmt::format("{} jobs taken over from a killed worker (epoch > attempts), {} retried "
                            "(attempts > 1)",
                            taken_over, retried));
            offenders(c, bad);
        }
        {
            auto& c = rep.add("storage usage (storage_stats, api_keys) = catalog (objects) = moto's listing");
            std::vector<std::string> bad;
            pqxx::connection conn{f.postgres().url()};
            pqxx::nontransaction tx{conn};
            std::map<std::string, std::uint64_t> catalog;  // key -> size
            std::map<std::string, std::pair<std::int64_t, std::int64_t>> per_tenant;
            for (const auto& r : tx.exec_params(
                     "SELECT key, size, coalesce(api_key, ''), coalesce(job_id, '') FROM objects WHERE provider = $1 "
                     "AND bucket = $2 AND deleted_at IS NULL",
                     provider, bucket)) {
                catalog[r[0].as<std::string>()] = r[1].as<std::uint64_t>();
                auto& t = per_tenant[r[2].as<std::string>()];
                t.first += r[1].as<std::int64_t>();
                t.second += 1;
            }
            std::uint64_t cat_bytes = 0;
            for (const auto& [k, s] : catalog) cat_bytes += s;
            const auto stats =
                tx.exec_params("SELECT total_bytes, file_count FROM storage_stats WHERE provider = $1", provider);
            const std::int64_t st_bytes = stats.empty() ? 0 : stats[0][0].as<std::int64_t>();
            const std::int64_t st_files = stats.empty() ? 0 : stats[0][1].as<std::int64_t>();
            if (st_bytes != static_cast<std::int64_t>(cat_bytes) ||
                st_files != static_cast<std::int64_t>(catalog.size()))
                bad.push_back(fmt::format("storage_stats {} bytes in {} files, catalog {} bytes in {} rows", st_bytes,
                                          st_files, cat_bytes, catalog.size()));
            std::map<std::string, std::pair<std::int64_t, std::int64_t>> keys_usage;
            for (const auto& r : tx.exec("SELECT api_key, used_bytes, file_count FROM api_keys"))
                keys_usage[r[0].as<std::string>()] = {r[1].as<std::int64_t>(), r[2].as<std::int64_t>()};
            for (const auto& t : tenants) {
                const auto want = per_tenant.count(t) ? per_tenant[t] : std::pair<std::int64_t, std::int64_t>{0, 0};
                const auto have = keys_usage.count(t) ? keys_usage[t] : std::pair<std::int64_t, std::int64_t>{0, 0};
                if (want != have)
                    bad.push_back(fmt::format("api_keys {}: {} bytes in {} files, catalog {} bytes in {} rows", t,
                                              have.first, have.second, want.first, want.second));
            }
            std::map<std::string, std::uint64_t> listed;
            for (const auto& o : moto.list_objects(bucket)) listed[o.key] = o.size;
            std::uint64_t listed_bytes = 0;
            for (const auto& [k, s] : listed) listed_bytes += s;
            for (const auto& [k, s] : catalog)
                if (!listed.count(k) || listed[k] != s)
                    bad.push_back(fmt::format("{}: in the catalog ({} bytes), {} at moto", k, s,
                                              listed.count(k) ? std::to_string(listed[k]) + " bytes" : "absent"));
            for (const auto& [k, s] : listed)
                if (!catalog.count(k)) bad.push_back(fmt::format("{}: at moto ({} bytes), not in the catalog", k, s));
            // Every pipeline ended, so none may have left anything under temp/.
            for (const auto& [k, s] : catalog)
                if (k.starts_with("temp/")) bad.push_back(fmt::format("{}: a pipeline's temp object left ({} bytes)", k, s));
            // Each succeeded upload stored its source under its key; nothing else is stored.
            std::size_t uploads_ok = 0;
            for (const auto& j : jobs) {
                if (j.kind != job_kind::upload) continue;
                const auto r = rows.find(j.id);
                const bool ok = r != rows.end() && r->second.status == "succeeded";
                uploads_ok += ok;
                const auto in_cat = catalog.find(j.key);
                if (ok && (in_cat == catalog.end() || in_cat->second != j.size))
                    bad.push_back(
                        fmt::format("{}: succeeded but {} is {} in the catalog", j.id, j.key,
                                    in_cat == catalog.end() ? "absent" : std::to_string(in_cat->second) + " bytes"));
                if (!ok && in_cat != catalog.end())
                    bad.push_back(fmt::format("{}: not succeeded but {} is stored", j.id, j.key));
            }
            c.passed = bad.empty();
            c.details.push_back(
                fmt::format("{} uploads succeeded; catalog {} objects / {} bytes; storage_stats {} / {}; "
                            "moto {} / {}",
                            uploads_ok, catalog.size(), cat_bytes, st_files, st_bytes, listed.size(), listed_bytes));
            offenders(c, bad);
        }
        {
            auto& c = rep.add("no open multipart upload at moto, no multipart_uploads row left");
            std::vector<std::string> bad;
            {
                pqxx::connection conn{f.postgres().url()};
                pqxx::nontransaction tx{conn};
                for (const auto& r : tx.exec("SELECT m.job_id, m.key, m.upload_id, coalesce(j.status, 'no row') FROM "
                                             "multipart_uploads m LEFT JOIN jobs j ON j.id = m.job_id AND j.queue = m.job_queue"))
                    bad.push_back(fmt::format("journal row: job {} ({}) key {} upload {}", r[0].as<std::string>(),
                                              r[3].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>()));
            }
            const std::size_t journal_rows = bad.size();
            // An upload open at moto that no row records can only come from a worker killed between
            // CreateMultipartUpload's answer and the journal's INSERT (README: "Orphaned multipart
            // uploads"): its job must then have been taken over (epoch > 1). Those are the case
            // `wharfctl storage orphans` exists for, and it must find and abort them; any other is a leak.
            std::map<std::string, const planned_job*> by_key;
            for (const auto& j : jobs)
                if (j.kind == job_kind::upload) by_key[j.key] = &j;
            const auto open = moto.open_uploads_by_key(bucket);
            std::vector<std::string> window;
            for (const auto& [key, upload_id] : open) {
                const auto j = by_key.find(key);
                const auto r = j == by_key.end() ? rows.end() : rows.find(j->second->id);
                if (r != rows.end() && r->second.epoch > 1)
                    window.push_back(
                        fmt::format("{} (job {}, epoch {}): upload {}", key, r->first, r->second.epoch, upload_id));
                else
                    bad.push_back(fmt::format("open at moto, not from a take-over: {} upload {}", key, upload_id));
            }
            if (!window.empty()) {
                wharf::test::process_options env;
                env.env = {{"WHARF_DATABASE_URL", f.postgres().url()}, {"WHARF_STORAGE_PROVIDERS", providers.dump()}};
                const auto r = wharf::test::run({(wharf::test::binary_dir() / "wharfctl" / "wharfctl").string(),
                                                 "storage", "orphans", "--abort", "--older-than", "0s"},
                                                env, 120s);
                const auto still = moto.open_uploads_by_key(bucket);
                c.details.push_back(fmt::format(
                    "KNOWN GAP: {} upload(s) opened by a worker killed before it recorded them; `wharfctl storage "
                    "orphans --abort --older-than 0s` exited {} and left {} open",
                    window.size(), r.status, still.size()));
                for (const auto& w : window) c.details.push_back("  " + w);
                if (r.status != 0 || !still.empty())
                    bad.push_back("wharfctl storage orphans did not clear them: " + r.output.substr(0, 2000));
                if (opt.strict_orphans) bad.insert(bad.end(), window.begin(), window.end());
            }
            c.passed = bad.empty();
            c.details.push_back(fmt::format("open at moto: {} ({} from the create-to-record window); journal rows: {}",
                                            open.size(), window.size(), journal_rows));
            offenders(c, bad);
        }
        {
            auto& c = rep.add("no scratch or temp file left (.wharf-tmp-*, upload-*.part, anything in the scratch folder)");
            auto left = leftover_files({sources_dir, scratch_dir, f.redis().dir(), work.path()});
            for (auto& p : entries_of(scratch_dir))
                if (std::find(left.begin(), left.end(), p) == left.end()) left.push_back(std::move(p));
            std::vector<std::string> bad;
            for (const auto& p : left) bad.push_back(p.string());
            c.passed = bad.empty();
            c.details.push_back(fmt::format("searched {} and {}", sources_dir.string(), scratch_dir.string()));
            offenders(c, bad);
        }
        {
            auto& c = rep.add("no ffmpeg (or any other worker child) process left");
            const auto left = marked_processes(marker);
            c.passed = left.empty();
            c.details.push_back("processes carrying this run's environment marker after the fleet stopped: " +
                                std::to_string(left.size()) + " (transcodes ran ffmpeg; killed workers took theirs)");
            offenders(c, left);
        }
        {
            auto& c = rep.add("worker RSS flat over the run (RssAnon, late vs early, +max(20 MiB, 25%))");
            const auto warmup = std::min<std::chrono::milliseconds>(20s, load_for / 6);
            const auto window = std::min<std::chrono::milliseconds>(20s, load_for / 6);
            std::vector<std::string> bad;
            int judged = 0;
            for (const auto& s : slots) {
                const auto v = wharf::chaos::judge_rss(s.samples, warmup, window);
                if (!v.judged) continue;
                ++judged;
                const auto line = fmt::format(
                    "worker {} (pid {}, {}, lived {:.0f}s, {} samples): RssAnon {:.1f} -> {:.1f} MiB (allowed "
                    "+{:.1f}), "
                    "VmRSS {:.1f} -> {:.1f} MiB",
                    s.log_index, s.pid, s.immortal ? "never killed" : "mortal",
                    s.samples.empty() ? 0.0 : s.samples.back().at.count() / 1000.0, s.samples.size(),
                    v.early_anon_kib / 1024.0, v.late_anon_kib / 1024.0, v.allowed_kib / 1024.0,
                    v.early_rss_kib / 1024.0, v.late_rss_kib / 1024.0);
                c.details.push_back(line);
                if (!v.flat) bad.push_back("grew: " + line);
            }
            c.passed = bad.empty() && judged > 0;
            if (judged == 0) c.details.push_back("no worker lived long enough to be judged (use --immortal 1 or more)");
            offenders(c, bad);
        }
        {
            auto& c = rep.add("no worker died on its own; every survivor shut down cleanly on SIGTERM");
            std::vector<std::string> bad = crashes;
            bad.insert(bad.end(), unclean.begin(), unclean.end());
            c.passed = bad.empty();
            c.details.push_back(
                fmt::format("{} worker processes in all ({} killed by the soak)", slots.size(),
                            std::count_if(slots.begin(), slots.end(), [](auto& s) { return s.killed_by_us; })));
            offenders(c, bad);
        }

        std::cout << "\n==== wharf chaos soak report ====\n";
        std::cout << fmt::format(
            "seed {}; load {:.1f} min; total {:.1f}s; jobs enqueued {} (acknowledged {}), final {}; "
            "kills {}; redis restarts {}; postgres restarts {}; network stalls {}\n",
            opt.seed, opt.minutes, seconds_since(t0), jobs.size(), acked_ids.size(),
            std::count_if(rows.begin(), rows.end(), [](auto& r) { return is_final(r.second.status); }),
            fig.kills.load(), fig.redis_restarts.load(), fig.pg_restarts.load(), fig.stalls.load());
        rep.print(std::cout);

        if (!rep.all_passed() || !opt.artifacts.empty()) {
            // The worker logs, for the investigation (the fleet's own folder goes with it).
            const auto dir = !opt.artifacts.empty()
                                 ? opt.artifacts
                                 : fs::temp_directory_path() / fmt::format("wharf-chaos-{}-{}", opt.seed, ::getpid());
            fs::create_directories(dir);
            for (const auto& s : slots)
                std::ofstream(dir / fmt::format("worker-{}.log", s.log_index)) << f.worker_log(s.log_index);
            std::ofstream jobs_out(dir / "jobs.txt");
            for (const auto& j : jobs)
                jobs_out << j.id << ' ' << (j.acked ? "acked " : "unknown ") << j.envelope.dump() << '\n';
            std::cout << "worker logs and the enqueued jobs: " << dir.string() << "\n";
        }
    } catch (const std::exception& e) {
        std::cerr << "wharf-chaos-soak: set-up or check failed: " << e.what() << "\n";
        return 2;
    }
    return rep.all_passed() ? 0 : 1;
}
