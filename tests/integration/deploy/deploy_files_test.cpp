#include "wharf/test/process.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

namespace fs = std::filesystem;
using wharf::test::run;
using wharf::test::source_dir;

namespace {

std::string read_file(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

wharf::test::run_result sh(const std::string& command) {
    wharf::test::process_options opts;
    opts.cwd = source_dir();
    return run({"/bin/sh", "-c", command}, opts, std::chrono::seconds(120));
}

// kubectl kustomize's output (stderr apart: newer kustomize warns that v2 fields are deprecated).
std::string kustomize(const fs::path& dir, const fs::path& out) {
    const auto r = sh("kubectl kustomize '" + dir.string() + "' > '" + out.string() + "' 2>'" + out.string() + ".err'");
    EXPECT_EQ(r.status, 0) << read_file(out.string() + ".err");
    return read_file(out);
}

// Debian's Python, which has PyYAML (python3-yaml), whatever else is first on the PATH.
std::string python() { return std::filesystem::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3"; }

std::string checker() { return (source_dir() / "tests/integration/deploy/check_manifests.py").string(); }

}  // namespace

TEST(deploy_files, docker_compose_config_accepts_the_compose_file_with_the_example_env) {
    const auto r = sh("docker-compose --env-file .env.example -f docker-compose.yml config -q 2>&1");
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(r.output, "") << r.output;
    // The seeds' variable names reach wharf's settings.
    const auto rendered = sh("docker-compose --env-file .env.example -f docker-compose.yml config 2>&1").output;
    for (const char* needle : {"\"wharf-media\"", "WHARF_SMTP_URL: smtp://smtp:1025",
                               "WHARF_ALERT_TO: ops@localhost", "wharfctl", "worker-transcode", "minio"})
        EXPECT_NE(rendered.find(needle), std::string::npos) << needle;
}

TEST(deploy_files, kustomize_renders_the_base_and_the_overlay_and_the_objects_hold_together) {
    wharf::test::temp_dir dir;
    const auto base = dir.path() / "base.yaml";
    const auto text = kustomize(source_dir() / "deploy/kubernetes/base", base);
    for (const char* kind : {"kind: Deployment", "kind: ScaledObject", "kind: PodDisruptionBudget", "kind: Job",
                             "name: wharf-api"})
        EXPECT_NE(text.find(kind), std::string::npos) << kind;
    auto r = run({python(), checker(), base.string()});
    EXPECT_EQ(r.status, 0) << r.output;

    const auto overlay = dir.path() / "overlay.yaml";
    kustomize(source_dir() / "deploy/kubernetes/overlays/example", overlay);
    r = run({python(), checker(), overlay.string(), "--namespace", "media", "--image", "registry.example.com/wharf:"});
    EXPECT_EQ(r.status, 0) << r.output;

    // The ScaledJob variant, with the base's config and secret it reads.
    const auto with_job = dir.path() / "with-job.yaml";
    std::ofstream(with_job) << text << "\n---\n"
                            << read_file(source_dir() / "deploy/kubernetes/base/scaledjob-transcode.yaml");
    r = run({python(), checker(), with_job.string()});
    EXPECT_EQ(r.status, 0) << r.output;

    // The checker does fail: a worker without its readiness probe, a KEDA target that is gone.
    const auto broken = dir.path() / "broken.yaml";
    std::string mutated = std::regex_replace(text, std::regex("readinessProbe"), "readinessProbeGone");
    mutated = std::regex_replace(mutated, std::regex("name: wharf-worker-download\n  minReplicaCount"),
                                 "name: wharf-worker-nowhere\n  minReplicaCount");
    std::ofstream(broken) << mutated;
    r = run({python(), checker(), broken.string()});
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_NE(r.output.find("has no readinessProbe"), std::string::npos) << r.output;
}

TEST(deploy_files, systemd_units_verify_cleanly_and_are_hardened) {
    wharf::test::temp_dir dir;
    // The units name /usr/local/bin; verify needs executables there, so it sees the built ones.
    fs::create_directories(dir.path() / "bin");
    fs::create_symlink(wharf::test::binary_dir() / "worker/wharf-worker", dir.path() / "bin/wharf-worker");
    fs::create_symlink(wharf::test::binary_dir() / "scheduler/wharf-scheduler", dir.path() / "bin/wharf-scheduler");
    fs::create_symlink(wharf::test::binary_dir() / "api/wharf-api", dir.path() / "bin/wharf-api");
    for (const char* unit : {"wharf-worker@.service", "wharf-scheduler.service", "wharf-api.service"}) {
        const auto text = read_file(source_dir() / "deploy/systemd" / unit);
        EXPECT_NE(text.find("Type=notify"), std::string::npos) << unit;
        EXPECT_NE(text.find("WatchdogSec="), std::string::npos) << unit;
        std::ofstream(dir.path() / unit) << std::regex_replace(text, std::regex("/usr/local/bin/"),
                                                               (dir.path() / "bin").string() + "/");
    }
    const std::string worker = (dir.path() / "wharf-worker@download.service").string();
    const std::string scheduler = (dir.path() / "wharf-scheduler.service").string();
    const std::string api = (dir.path() / "wharf-api.service").string();
    auto r = sh("systemd-analyze verify '" + worker + "' '" + scheduler + "' '" + api + "' 2>&1");
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(r.output, "") << r.output;
    for (const auto& unit : {worker, scheduler, api}) {
        r = sh("systemd-analyze security --offline=true '" + unit + "' 2>&1");
        std::smatch m;
        ASSERT_TRUE(std::regex_search(r.output, m, std::regex("Overall exposure level for [^:]+: ([0-9.]+)"))) << r.output;
        EXPECT_LT(std::stod(m[1].str()), 3.0) << r.output;
    }
}
