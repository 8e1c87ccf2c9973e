// Paths of `train` beyond the default Adam/float32 run: every optimizer resumed under the cosine
// schedule, float64, SIGTERM from outside, and the BLAS thread count (recorded in the checkpoint,
// changed on resume). The PCA path is checked against numpy (tests/reference/).
#include "train_runner.hpp"

#include <chrono>
#include <csignal>
#include <thread>

#include <unistd.h>

namespace fs = std::filesystem;
using namespace tg_test;

namespace {

std::string synthetic_data(const TempDir& tmp) {
    write_synthetic(tmp);
    return "--train-npy " + (tmp / "train.npy") + " --test-npy " + (tmp / "test.npy") + " ";
}

// The largest normwise relative difference ||a - b|| / ||a|| between the parameters the two
// directories' checkpoints name (float32 arrays).
double parameter_difference(const fs::path& a, const fs::path& b) {
    const nlohmann::json ja = read_json(a / "checkpoint.json"), jb = read_json(b / "checkpoint.json");
    BOOST_REQUIRE_EQUAL(ja.at("parameters").size(), jb.at("parameters").size());
    double worst = 0;
    for (std::size_t k = 0; k < ja.at("parameters").size(); ++k) {
        const auto x = tg::io::load_npy<float>((a / ja["parameters"][k].at("file").get<std::string>()).string());
        const auto y = tg::io::load_npy<float>((b / jb["parameters"][k].at("file").get<std::string>()).string());
        BOOST_REQUIRE(x.shape() == y.shape());
        double diff = 0, norm = 0;
        for (std::size_t i = 0; i < x.size(); ++i) {
            diff += (double(x.data()[i]) - y.data()[i]) * (double(x.data()[i]) - y.data()[i]);
            norm += double(x.data()[i]) * x.data()[i];
        }
        worst = std::max(worst, std::sqrt(diff / norm));
    }
    return worst;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(train_paths)

// Each optimizer's state (momentum, squared averages, moments, the step count) and the cosine
// schedule's position must survive a stop in mid-epoch: straight and split runs end bit-identical.
BOOST_AUTO_TEST_CASE(every_optimizer_resumes_exactly_under_the_cosine_schedule) {
    TempDir tmp;
    const std::string data = synthetic_data(tmp);
    for (const char* optimizer : {"sgd", "momentum", "nesterov", "rmsprop", "adam"}) {
        BOOST_TEST_CONTEXT("optimizer " << optimizer) {
            const std::string common = data + "--model autoencoder --code 8 --batch 32 --epochs 3 --lr-schedule cosine"
                                              " --optimizer " + optimizer + " ";
            const std::string straight = tmp / (std::string("straight-") + optimizer), split = tmp / (std::string("split-") + optimizer);
            BOOST_REQUIRE_EQUAL(run_train(common + "--out " + straight, tmp).code, 0);
            // 10 steps per epoch: the stop lands in epoch 2, where the cosine rate is mid-way.
            BOOST_REQUIRE_EQUAL(run_train(common + "--stop-after-steps 14 --out " + split, tmp).code, 130);
            BOOST_REQUIRE_EQUAL(run_train("--resume " + split, tmp).code, 0);
            require_same_checkpoint(straight, split);
        }
    }
}

// --dtype float64 trains, checkpoints float64 arrays, and resumes exactly.
BOOST_AUTO_TEST_CASE(float64_trains_and_resumes_exactly) {
    TempDir tmp;
    const std::string common = synthetic_data(tmp) + "--model denoising --corruption masking --dtype float64 --code 8"
                                                     " --batch 32 --epochs 2 ";
    BOOST_REQUIRE_EQUAL(run_train(common + "--out " + (tmp / "straight"), tmp).code, 0);
    BOOST_REQUIRE_EQUAL(run_train(common + "--stop-after-steps 7 --out " + (tmp / "split"), tmp).code, 130);
    BOOST_REQUIRE_EQUAL(run_train("--resume " + (tmp / "split"), tmp).code, 0);
    require_same_checkpoint(tmp.dir / "straight", tmp.dir / "split");
    const nlohmann::json j = read_json(tmp.dir / "straight" / "checkpoint.json");
    const std::string w = read_bytes(tmp.dir / "straight" / j.at("parameters")[0].at("file").get<std::string>());
    BOOST_TEST(w.find("'descr': '<f8'") != std::string::npos, "the float64 run's arrays are not float64");
    BOOST_CHECK_THROW(tg::io::load_npy<float>((tmp.dir / "straight" / j["parameters"][0]["file"].get<std::string>()).string()),
                      std::exception);
}

// The conv model on .npy images: 8x8 single-channel rows, and the same 64 values read as 4x8
// images of 2 channels; with denoising noise, stopped in mid-epoch and resumed exactly. Rows
// that are not the images the options describe are refused with exit 2 and a message.
BOOST_AUTO_TEST_CASE(the_conv_model_trains_on_npy_images_and_resumes_exactly) {
    TempDir tmp;
    const std::string data = synthetic_data(tmp);
    for (const char* geometry : {"", "--image-height 4 --image-channels 2 "}) {
        BOOST_TEST_CONTEXT("geometry '" << geometry << "'") {
            const std::string common = data + "--model conv --channels 4,6 --code 5 --corruption gaussian --batch 32"
                                              " --epochs 2 " + geometry;
            const std::string straight = tmp / (std::string("straight") + (*geometry ? "-2ch" : "")),
                              split = tmp / (std::string("split") + (*geometry ? "-2ch" : ""));
            BOOST_REQUIRE_EQUAL(run_train(common + "--out " + straight, tmp).code, 0);
            BOOST_REQUIRE_EQUAL(run_train(common + "--stop-after-steps 13 --out " + split, tmp).code, 130);
            BOOST_REQUIRE_EQUAL(run_train("--resume " + split, tmp).code, 0);
            require_same_checkpoint(straight, split);
        }
    }
    const Run bad = run_train(data + "--model conv --image-channels 3 --epochs 1 --out " + (tmp / "bad"), tmp);
    BOOST_TEST(bad.code == 2);
    BOOST_TEST(bad.output.find("rows of 64 values are not square images of 3 channel(s)") != std::string::npos, bad.output);
}

// Starts a long run of `train` in the background (its output in tmp/log.txt), waits until its
// first checkpoint exists (it is training), sends it `signals` back to back, and returns its
// wait status and output.
std::pair<int, std::string> signalled_run(const TempDir& tmp, const std::string& common, const std::string& dir,
                                          std::initializer_list<int> signals) {
    const std::string command = "exec " + std::string(TAPEGRAD_TRAIN_BINARY) + " --progress none " + common +
                                "--epochs 100000 --out " + dir + " > '" + (tmp / "log.txt") + "' 2>&1";
    const pid_t pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
        ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!fs::exists(fs::path(dir) / "checkpoint.json") && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    for (int sig : signals) ::kill(pid, sig);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return {status, read_bytes(tmp.dir / "log.txt")};
}

// SIGTERM sent from outside (as a job scheduler does): the run saves a checkpoint, exits with
// 128 + 15, and resuming ends where an uninterrupted run ends.
BOOST_AUTO_TEST_CASE(sigterm_from_outside_saves_and_exits_143) {
    TempDir tmp;
    const std::string common = synthetic_data(tmp) + "--model autoencoder --code 8 --batch 32 --checkpoint-every 1 ";
    const std::string dir = tmp / "terminated";
    const auto [status, log] = signalled_run(tmp, common, dir, {SIGTERM});
    BOOST_REQUIRE_MESSAGE(WIFEXITED(status) && WEXITSTATUS(status) == 143, "status " << status << "\n" << log);
    BOOST_TEST(log.find("stopped by signal 15") != std::string::npos, log);
    BOOST_TEST(log.find("resume with: train --resume") != std::string::npos, log);

    // Continue to the end of the epoch after the stop, and compare with a run straight there.
    const nlohmann::json saved = read_json(fs::path(dir) / "checkpoint.json");
    const std::string epochs = std::to_string(saved.at("epochs_done").get<int>() + 1);
    BOOST_REQUIRE_EQUAL(run_train("--resume " + dir + " --epochs " + epochs, tmp).code, 0);
    BOOST_REQUIRE_EQUAL(run_train(common + "--epochs " + epochs + " --out " + (tmp / "straight"), tmp).code, 0);
    require_same_checkpoint(tmp.dir / "straight", dir);
}

// OpenBLAS splits a gemm's work by thread count, and its sums round differently: 1 and 2 threads
// give parameters that differ at float32 rounding level (measured 1e-7 normwise after an epoch),
// not bit for bit. The bound tested is 1e-5. The checkpoint records the count, and a run resumed
// with another count says so and stays within the same bound of the uninterrupted run.
BOOST_AUTO_TEST_CASE(thread_count_changes_results_only_by_rounding_and_is_recorded) {
    BOOST_REQUIRE_MESSAGE(have_fashion_mnist(), "this test trains on dataset-fashion-mnist, which is not installed "
                                                "(scripts/install-deps.sh installs it)");
    TempDir tmp;
    // Fashion-MNIST sizes (784 x 64, batch 64): large enough for OpenBLAS to use both threads.
    const std::string common = "--model denoising --code 64 --batch 64 --limit 3000 --test-limit 300 --pictures 4 ";
    BOOST_REQUIRE_EQUAL(run_train(common + "--epochs 2 --threads 1 --out " + (tmp / "one"), tmp).code, 0);
    BOOST_REQUIRE_EQUAL(run_train(common + "--epochs 2 --threads 2 --out " + (tmp / "two"), tmp).code, 0);
    BOOST_TEST(read_json(tmp.dir / "one" / "checkpoint.json").at("threads").get<int>() == 1);
    BOOST_TEST(read_json(tmp.dir / "two" / "checkpoint.json").at("threads").get<int>() == 2);
    const double threads_apart = parameter_difference(tmp.dir / "one", tmp.dir / "two");
    BOOST_TEST_MESSAGE("1 vs 2 threads: parameters " << threads_apart << " apart (normwise relative)");
    BOOST_TEST(threads_apart <= 1e-5);

    // One epoch on 1 thread, the second resumed on 2.
    BOOST_REQUIRE_EQUAL(run_train(common + "--epochs 1 --threads 1 --out " + (tmp / "switched"), tmp).code, 0);
    const Run resumed = run_train("--resume " + (tmp / "switched") + " --epochs 2 --threads 2", tmp);
    BOOST_REQUIRE_EQUAL(resumed.code, 0);
    BOOST_TEST(resumed.output.find("the checkpoint was written with 1") != std::string::npos, resumed.output);
    BOOST_TEST(read_json(tmp.dir / "switched" / "checkpoint.json").at("threads").get<int>() == 2);
    const double resumed_apart = parameter_difference(tmp.dir / "one", tmp.dir / "switched");
    BOOST_TEST_MESSAGE("1 thread vs 1 then 2 threads: parameters " << resumed_apart << " apart");
    BOOST_TEST(resumed_apart <= 1e-5);

    // A checkpoint from before the field was renamed ("blas_threads") still reads, and still says
    // which count it was written with.
    BOOST_REQUIRE_EQUAL(run_train(common + "--epochs 1 --threads 1 --out " + (tmp / "old"), tmp).code, 0);
    nlohmann::json old = read_json(tmp.dir / "old" / "checkpoint.json");
    old["blas_threads"] = old.at("threads");
    old.erase("threads");
    std::ofstream(tmp.dir / "old" / "checkpoint.json") << old.dump(1);
    const Run old_resumed = run_train("--resume " + (tmp / "old") + " --epochs 2 --threads 2", tmp);
    BOOST_REQUIRE_EQUAL(old_resumed.code, 0);
    BOOST_TEST(old_resumed.output.find("the checkpoint was written with 1") != std::string::npos, old_resumed.output);
    BOOST_TEST(parameter_difference(tmp.dir / "switched", tmp.dir / "old") == 0.0);
}

// SIGINT from outside (Ctrl-C in another terminal, `kill -INT`): saves, says so, exits 130.
BOOST_AUTO_TEST_CASE(sigint_from_outside_saves_and_exits_130) {
    TempDir tmp;
    const std::string dir = tmp / "interrupted";
    const auto [status, log] =
        signalled_run(tmp, synthetic_data(tmp) + "--model autoencoder --code 8 --batch 32 --checkpoint-every 1 ", dir, {SIGINT});
    BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 130), "status " << status << "\n" << log);
    BOOST_TEST(log.find("stopped by signal 2") != std::string::npos, log);
    BOOST_TEST(run_train("--resume " + dir + " --epochs 1", tmp).code == 0);  // the checkpoint it left is whole
}

// A second signal while the first is being handled stops at once: exit 128 + that signal, no
// "stopped" report. (SIGINT then SIGTERM: two different signals, which the kernel does not merge
// as it would two pending SIGINTs.)
BOOST_AUTO_TEST_CASE(a_second_signal_stops_at_once) {
    TempDir tmp;
    const auto [status, log] = signalled_run(tmp, synthetic_data(tmp) + "--model autoencoder --code 8 --batch 32 --checkpoint-every 1 ",
                                             tmp / "twice", {SIGINT, SIGTERM});
    BOOST_TEST((WIFEXITED(status) && (WEXITSTATUS(status) == 143 || WEXITSTATUS(status) == 130)), "status " << status << "\n" << log);
    BOOST_TEST(log.find("stopped by signal") == std::string::npos, log);
}

// --progress: `auto` draws the bar (carriage returns, an ETA) on a terminal and plain epoch
// lines otherwise; `bar` draws it anywhere; `none` neither. The terminal is a pseudo-terminal
// from util-linux's `script` (bsdutils, an Essential package of Debian).
BOOST_AUTO_TEST_CASE(progress_modes_follow_the_terminal) {
    TempDir tmp;
    const std::string common = synthetic_data(tmp) + "--model autoencoder --code 8 --batch 16 --epochs 2 ";
    auto output_of = [&](const std::string& mode, bool terminal, const std::string& name) {
        const std::string train = std::string(TAPEGRAD_TRAIN_BINARY) + " --progress " + mode + " " + common + "--out " + (tmp / name);
        const std::string log = tmp / (name + ".log");
        const std::string command = terminal ? "script -qec \"" + train + "\" /dev/null > '" + log + "' 2>&1"
                                             : train + " > '" + log + "' 2>&1";
        const int status = std::system(command.c_str());
        BOOST_REQUIRE_MESSAGE(WIFEXITED(status) && WEXITSTATUS(status) == 0, mode << (terminal ? " on a terminal" : "") << ": status "
                                                                                  << status << "\n" << read_bytes(log));
        return read_bytes(log);
    };
    auto has_bar = [](const std::string& out) { return out.find('\r') != std::string::npos && out.find(" eta ") != std::string::npos; };
    const std::string on_terminal = output_of("auto", true, "auto-tty");
    BOOST_TEST(has_bar(on_terminal), on_terminal);
    const std::string to_file = output_of("auto", false, "auto-file");
    BOOST_TEST(!has_bar(to_file), to_file);
    BOOST_TEST(to_file.find("epoch   2/2") != std::string::npos, to_file);
    BOOST_TEST(has_bar(output_of("bar", false, "bar-file")));
    BOOST_TEST(!has_bar(output_of("none", true, "none-tty")));
}

// Exit code 1, an unexpected failure: the run trains, then cannot write its checkpoint (a file
// stands where the checkpoint directory goes); the message names the path. (An --out that
// cannot be created at all is refused before training, as a usage error: exit 2.)
BOOST_AUTO_TEST_CASE(a_checkpoint_that_cannot_be_written_exits_with_1_naming_it) {
    TempDir tmp;
    fs::create_directories(tmp.dir / "run");
    { std::ofstream blocker(tmp.dir / "run" / "checkpoint"); blocker << "a file, not a directory\n"; }
    const Run r = run_train(synthetic_data(tmp) + "--model autoencoder --code 8 --epochs 1 --out " + (tmp / "run"), tmp);
    BOOST_TEST(r.code == 1, r.output);
    BOOST_TEST(r.output.find("run/checkpoint") != std::string::npos, r.output);
    BOOST_TEST(r.output.find("epoch   1/1") != std::string::npos, r.output);
    BOOST_TEST(run_train(synthetic_data(tmp) + "--model autoencoder --epochs 1 --out " + (tmp / "run") + "/checkpoint/x", tmp).code == 2);
}

BOOST_AUTO_TEST_SUITE_END()
