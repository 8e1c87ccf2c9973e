// The `train` tool, run as a program: exact resume, and its exit codes for bad input.
// CMake passes the binary's path as TAPEGRAD_TRAIN_BINARY; without it the suite does not build
// (train_runner.hpp stops it: a suite that compiled to nothing would pass).
#include "train_runner.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstring>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace tg_test;

namespace {

// One epoch of a 4-unit autoencoder on synthetic data in tmp / name: a checkpoint to edit.
fs::path one_synthetic_epoch(TempDir& tmp, const char* name) {
    write_synthetic(tmp);
    const fs::path dir = tmp.dir / name;
    BOOST_REQUIRE_EQUAL(run_train("--train-npy " + (tmp / "train.npy") + " --test-npy " + (tmp / "test.npy") +
                                      " --code 4 --epochs 1 --out " + dir.string(),
                                  tmp)
                            .code,
                        0);
    return dir;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(train)

BOOST_AUTO_TEST_CASE(resume_after_an_epoch_is_bit_identical) {
    BOOST_REQUIRE_MESSAGE(have_fashion_mnist(), "this test trains on dataset-fashion-mnist, which is not installed "
                                                "(scripts/install-deps.sh installs it)");
    // Denoising (its noise depends on the epoch and the sample) with Adam (its moments are state);
    // an energy model (its score-matching noise likewise); a deep contractive code with the
    // random-projection penalty (its directions are keyed by epoch and sample too).
    for (const char* model : {"--model denoising --code 16", "--model energy --layers 16",
                              "--model contractive --contractive-encoder stacked --layers 16,8 --contractive-penalty estimate",
                              "--model vae --code 2 --hidden 16"}) {
        BOOST_TEST_CONTEXT(model) {
            TempDir tmp;
            const std::string common = std::string(model) + " --optimizer adam --batch 50 --limit 1000 --test-limit 200 ";
            BOOST_REQUIRE_EQUAL(run_train(common + "--epochs 2 --out " + (tmp / "straight"), tmp).code, 0);
            BOOST_REQUIRE_EQUAL(run_train(common + "--epochs 1 --out " + (tmp / "split"), tmp).code, 0);
            const Run resumed = run_train("--resume " + (tmp / "split") + " --epochs 2", tmp);
            BOOST_REQUIRE_EQUAL(resumed.code, 0);
            BOOST_TEST(resumed.output.find("resuming") != std::string::npos);
            require_same_checkpoint(tmp.dir / "straight", tmp.dir / "split");
            for (const char* picture : {"filters.png", "reconstructions.png", "loss.png"})
                BOOST_TEST(fs::file_size(tmp.dir / "split" / picture) > 0);
        }
    }
}

// A VAE reports its two terms of −ELBO on the test set after each evaluated epoch (the line,
// the history, metrics.json) and draws prior samples and, for a 2-unit code, the latent grid.
BOOST_AUTO_TEST_CASE(vae_reports_its_elbo_terms_and_draws_samples) {
    BOOST_REQUIRE(have_fashion_mnist());
    TempDir tmp;
    const Run run = run_train("--model vae --code 2 --hidden 32 --epochs 2 --limit 640 --test-limit 200 --out " + (tmp / "vae"), tmp);
    BOOST_REQUIRE_MESSAGE(run.code == 0, run.output);
    std::size_t lines = 0;
    for (std::size_t at = run.output.find("test loss reconstruction "); at != std::string::npos;
         at = run.output.find("test loss reconstruction ", at + 1))
        ++lines;
    BOOST_TEST(lines == 2u, run.output);
    BOOST_TEST(run.output.find(" + kl ") != std::string::npos, run.output);
    const nlohmann::json metrics = read_json(tmp.dir / "vae" / "metrics.json");
    const double reconstruction = metrics.at("test_terms").at("reconstruction").get<double>();
    const double kl = metrics.at("test_terms").at("kl").get<double>();
    BOOST_TEST(reconstruction > 100.0);  // nats per 784-pixel image: far from 0 after 20 steps
    BOOST_TEST(kl > 0.0);
    for (const char* picture : {"samples.png", "latent-grid.png"}) BOOST_TEST(fs::file_size(tmp.dir / "vae" / picture) > 0);
}

BOOST_AUTO_TEST_CASE(resume_after_sigint_mid_epoch_is_bit_identical) {
    TempDir tmp;
    write_synthetic(tmp);
    const std::string common = "--train-npy " + (tmp / "train.npy") + " --test-npy " + (tmp / "test.npy") +
                               " --model denoising --corruption gaussian --corruption-amount 0.2 --optimizer adam"
                               " --code 8 --batch 32 --epochs 3 ";
    BOOST_REQUIRE_EQUAL(run_train(common + "--out " + (tmp / "straight"), tmp).code, 0);
    // 10 steps per epoch: the stop lands in the middle of epoch 2.
    const Run stopped = run_train(common + "--stop-after-steps 13 --out " + (tmp / "split"), tmp);
    BOOST_REQUIRE_EQUAL(stopped.code, 130);
    BOOST_TEST(stopped.output.find("checkpoint saved") != std::string::npos);
    const nlohmann::json mid = read_json(tmp.dir / "split" / "checkpoint.json");
    BOOST_TEST(mid.at("epochs_done").get<int>() == 1);
    BOOST_TEST(mid.at("step_in_epoch").get<int>() == 3);
    BOOST_REQUIRE_EQUAL(run_train("--resume " + (tmp / "split"), tmp).code, 0);
    require_same_checkpoint(tmp.dir / "straight", tmp.dir / "split");
}

// SIGKILL can land anywhere, also in the middle of writing a checkpoint. Whatever the moment,
// the directory must hold either no checkpoint or a complete one, and resuming from it must end
// exactly where the uninterrupted run ends.
BOOST_AUTO_TEST_CASE(sigkill_at_random_moments_never_breaks_the_last_checkpoint) {
    TempDir tmp;
    write_synthetic(tmp);
    const std::string common = "--train-npy " + (tmp / "train.npy") + " --test-npy " + (tmp / "test.npy") +
                               " --model denoising --corruption gaussian --corruption-amount 0.2 --optimizer adam"
                               " --code 8 --batch 32 --epochs 40 --checkpoint-every 1 ";
    const auto start = std::chrono::steady_clock::now();
    BOOST_REQUIRE_EQUAL(run_train(common + "--out " + (tmp / "straight"), tmp).code, 0);
    const double run_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    std::mt19937_64 rng(11);
    const int trials = 16;
    int resumed_from_a_checkpoint = 0, killed_while_saving = 0;
    for (int trial = 0; trial < trials; ++trial) {
        const std::string dir = tmp / ("killed" + std::to_string(trial));
        // Stratified moments over the run, so kills land in start-up, training and saving alike.
        const double at = (trial + std::uniform_real_distribution<double>(0, 1)(rng)) / trials * run_seconds;
        const std::string command = "exec " + std::string(TAPEGRAD_TRAIN_BINARY) + " --progress none " + common + "--out " + dir +
                                    " > /dev/null 2>&1";
        const pid_t pid = ::fork();
        BOOST_REQUIRE(pid >= 0);
        if (pid == 0) {
            ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
            ::_exit(127);
        }
        ::usleep(static_cast<useconds_t>(at * 1e6));
        ::kill(pid, SIGKILL);
        int status = 0;
        ::waitpid(pid, &status, 0);
        if (!fs::exists(fs::path(dir) / "checkpoint.json")) continue;  // killed before the first save
        if (mid_save_leftovers(dir) > 0) ++killed_while_saving;
        const Run resumed = run_train("--resume " + dir, tmp);
        BOOST_REQUIRE_MESSAGE(resumed.code == 0, "trial " << trial << " (kill after " << at << " s): resume failed:\n"
                                                          << resumed.output);
        require_same_checkpoint(tmp.dir / "straight", dir);
        BOOST_TEST(mid_save_leftovers(dir) == 0u, "trial " << trial << ": the resumed run's save left stale files");
        ++resumed_from_a_checkpoint;
    }
    BOOST_TEST_MESSAGE(resumed_from_a_checkpoint << " of " << trials << " kills left a checkpoint to resume from, "
                                                 << killed_while_saving << " of them in the middle of a save");
    BOOST_TEST(resumed_from_a_checkpoint >= trials / 3);
    // Saving is most of this run's time (a few ms of fsync per epoch against microseconds of
    // training), so kills must have hit saves, or the test did not test what it claims.
    BOOST_TEST(killed_while_saving >= 1);
}

// A kill while the last epoch's metrics or pictures were being written (or while a checkpoint's
// arrays were, before its JSON) leaves the atomic writer's temporary files and unnamed arrays. A
// resume with nothing left to train never saves again, so it must clear them itself (the SIGKILL
// test above found this under load); files that are not ours stay.
BOOST_AUTO_TEST_CASE(a_resume_with_nothing_to_train_clears_interrupted_writes) {
    TempDir tmp;
    write_synthetic(tmp);
    const std::string dir = tmp / "done";
    BOOST_REQUIRE_EQUAL(run_train("--train-npy " + (tmp / "train.npy") + " --test-npy " + (tmp / "test.npy") +
                                      " --model autoencoder --code 4 --epochs 1 --out " + dir, tmp).code, 0);
    for (const char* leftover : {"metrics.json.tmp.4242.0", "loss.png.tmp.4242.1", "checkpoint/e0009-s000000-param-W.npy",
                                 "checkpoint/e0009-s000000-param-b1.npy.tmp.4242.2", "notes.txt", "notes.tmp"})
        std::ofstream(fs::path(dir) / leftover) << "x";
    BOOST_REQUIRE_EQUAL(mid_save_leftovers(dir), 4u);
    const Run resumed = run_train("--resume " + dir, tmp);
    BOOST_REQUIRE_EQUAL(resumed.code, 0);
    BOOST_TEST(resumed.output.find("nothing to train") != std::string::npos, resumed.output);
    BOOST_TEST(mid_save_leftovers(dir) == 0u);
    BOOST_TEST(fs::exists(fs::path(dir) / "notes.txt"));
    BOOST_TEST(fs::exists(fs::path(dir) / "notes.tmp"));
}

BOOST_AUTO_TEST_CASE(bad_command_lines_exit_with_2_and_a_message) {
    TempDir tmp;
    const std::string out = " --out " + (tmp / "out");
    const std::vector<std::pair<std::string, std::string>> cases{
        {"--no-such-flag", "--no-such-flag"},
        {"--lr -0.5", "--lr"},
        {"--code 0", "--code"},
        {"--code 100000", "--code must be at most 65536"},
        {"--model stacked --layers 64,0", "--layers"},
        {"--model denoising --corruption-amount 1.5", "--corruption-amount"},
        {"--model wavelet", "--model"},
        {"--train-npy " + (tmp / "missing.npy") + " --test-npy " + (tmp / "missing.npy"), "missing.npy"},
        {"--loss bce", "--decoder sigmoid"},
    };
    for (const auto& [args, expected] : cases) {
        const Run r = run_train(args + out, tmp);
        BOOST_TEST(r.code == 2, args);
        BOOST_TEST(r.output.find(expected) != std::string::npos, args << " -> " << r.output);
        BOOST_TEST(r.output.find("terminate") == std::string::npos, args);
    }
}

BOOST_AUTO_TEST_CASE(corrupt_data_files_exit_with_3_naming_the_file) {
    TempDir tmp;
    write_synthetic(tmp);
    // Damaged copies of a good training file: each must stop the tool with exit code 3 and a
    // message naming the file and the problem.
    const std::string good = read_bytes(tmp.dir / "train.npy");
    const std::size_t data_start = good.find('\n') + 1;
    auto with_float_at = [&](std::size_t element, std::uint32_t bits) {
        std::string b = good;
        std::memcpy(b.data() + data_start + 4 * element, &bits, 4);
        return b;
    };
    auto replaced = [&](const std::string& from, const std::string& to) {
        std::string b = good;
        b.replace(b.find(from), from.size(), to);
        return b;
    };
    const std::vector<std::tuple<std::string, std::string, std::vector<std::string>>> npy_cases{
        {"truncated", good.substr(0, good.size() / 2), {"truncated", "needs 76800 bytes"}},
        {"wrong magic", "\x93NUMPX" + good.substr(6), {"byte 0", "not an npy file"}},
        {"int32", replaced("'<f4'", "'<i4'"), {"dtype '<i4' is not a float array"}},
        {"float64 of a float32 size", replaced("'<f4'", "'<f8'"), {"truncated", "needs 153600 bytes"}},
        {"big-endian", replaced("'<f4'", "'>f4'"), {"'>f4' is big-endian"}},
        {"NaN", with_float_at(100, 0x7fc00000u), {"element 100 is nan", "must be finite"}},
        {"Inf", with_float_at(7, 0xff800000u), {"element 7 is -inf", "must be finite"}},
    };
    for (const auto& [what, bytes, parts] : npy_cases) {
        const std::string bad = tmp / "bad.npy";
        std::ofstream(bad, std::ios::binary | std::ios::trunc) << bytes;
        const Run r = run_train("--train-npy " + bad + " --test-npy " + (tmp / "test.npy") + " --out " + (tmp / "o"), tmp);
        BOOST_TEST(r.code == 3, what);
        BOOST_TEST(r.output.find(bad) != std::string::npos, what << " -> " << r.output);
        for (const std::string& part : parts) BOOST_TEST(r.output.find(part) != std::string::npos, what << ": " << part << " -> " << r.output);
        BOOST_TEST(r.output.find("terminate") == std::string::npos, what);
    }

    // An IDX image file whose header promises more pixels than it holds.
    fs::create_directories(tmp.dir / "idx");
    const unsigned char header[] = {0, 0, 8, 3, 0, 0, 0, 10, 0, 0, 0, 28, 0, 0, 0, 28, 1, 2, 3};
    for (const char* name : {"train-images-idx3-ubyte", "t10k-images-idx3-ubyte"})
        std::ofstream(tmp.dir / "idx" / name, std::ios::binary).write(reinterpret_cast<const char*>(header), sizeof header);
    const unsigned char labels[] = {0, 0, 8, 1, 0, 0, 0, 10, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    for (const char* name : {"train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte"})
        std::ofstream(tmp.dir / "idx" / name, std::ios::binary).write(reinterpret_cast<const char*>(labels), sizeof labels);
    const Run idx = run_train("--data-dir " + (tmp / "idx") + " --out " + (tmp / "o"), tmp);
    BOOST_TEST(idx.code == 3);
    BOOST_TEST(idx.output.find("train-images-idx3-ubyte") != std::string::npos, idx.output);

    // A checkpoint that is not JSON.
    fs::create_directories(tmp.dir / "ck");
    std::ofstream(tmp.dir / "ck" / "checkpoint.json") << "{ not json";
    const Run ck = run_train("--resume " + (tmp / "ck"), tmp);
    BOOST_TEST(ck.code == 3);
    BOOST_TEST(ck.output.find("checkpoint.json") != std::string::npos, ck.output);
}

// Checkpoints come from disk and may be damaged or hostile: each of these edits (the fuzzing
// findings among them, docs/reliability.md) is refused with a message, before the model is
// built or any file outside the checkpoint is read.
BOOST_AUTO_TEST_CASE(hostile_checkpoints_are_refused_with_a_message) {
    TempDir tmp;
    const fs::path good = one_synthetic_epoch(tmp, "good");
    const nlohmann::json base = read_json(good / "checkpoint.json");
    tg::io::save_npy<float>(tmp / "outside.npy", tg::make_matrix<float>(64, 4));
    using nlohmann::json;
    struct Case {
        const char* name;
        std::function<void(json&)> edit;
        int code;
        std::string message;
    };
    const std::vector<Case> cases{
        {"version is a string", [](json& j) { j["version"] = "1"; }, 3, "checkpoint version \"1\" is not the supported"},
        {"format is a number", [](json& j) { j["format"] = 1; }, 3, "not a tapegrad training checkpoint"},
        {"code is 2.1e301", [](json& j) { j["config"]["model_options"]["code"] = 2.1e301; }, 3, "\"code\" must be an integer"},
        {"code is -1", [](json& j) { j["config"]["model_options"]["code"] = -1; }, 3, "\"code\" must be an integer"},
        {"code is 3.0", [](json& j) { j["config"]["model_options"]["code"] = 3.0; }, 3, "\"code\" must be an integer"},
        {"epochs_done is 1e300", [](json& j) { j["epochs_done"] = 1e300; }, 3, "\"epochs_done\" must be an integer"},
        {"steps is 1e30", [](json& j) { j["optimizer_state"]["steps"] = 1e30; }, 3, "\"steps\" must be an integer"},
        {"history epoch is 1e10", [](json& j) { j["history"][0]["epoch"] = 1e10; }, 3, "\"epoch\" must be an integer"},
        {"seed is -1", [](json& j) { j["config"]["training"]["seed"] = "-1"; }, 3, "\"seed\" must be a decimal integer"},
        {"code is 10^8", [](json& j) { j["config"]["model_options"]["code"] = 100000000; }, 2, "--code must be at most 65536"},
        {"file escapes with ..", [](json& j) { j["parameters"][0]["file"] = "../outside.npy"; }, 3, "relative names inside"},
        {"file is absolute", [&](json& j) { j["parameters"][0]["file"] = tmp / "outside.npy"; }, 3, "relative names inside"},
        // A masking run saved before masking took 16-bit draws (no "masking_layout": layout 1).
        {"masking layout 1",
         [](json& j) {
             j["config"]["model_options"]["corruption"] = "masking";
             j.erase("masking_layout");
         },
         3, "drawn with masking layout 1 (one 32-bit word per element); this tapegrad draws layout 3 (8 bits"},
        // ... and with 16-bit draws (layout 2).
        {"masking layout 2",
         [](json& j) {
             j["config"]["model_options"]["corruption"] = "masking";
             j["masking_layout"] = 2;
         },
         3, "drawn with masking layout 2 (16 bits per element)"},
    };
    for (const Case& c : cases) {
        const fs::path dir = tmp.dir / "bad";
        fs::remove_all(dir);
        fs::copy(good, dir, fs::copy_options::recursive);
        json j = base;
        c.edit(j);
        std::ofstream(dir / "checkpoint.json") << j.dump(1);
        const Run r = run_train("--resume " + dir.string() + " --epochs 2", tmp);
        BOOST_TEST(r.code == c.code, c.name);
        BOOST_TEST(r.output.find(c.message) != std::string::npos, c.name << " -> " << r.output);
        BOOST_TEST(r.output.find("resuming") == std::string::npos, c.name);
    }
}

// The README's example: a model defined in the example file, trained by the library's Trainer.
// One epoch, then a second run in the same directory resumes it; the result must equal two
// epochs in one go, bit for bit.
BOOST_AUTO_TEST_CASE(user_defined_model_example_resumes_exactly) {
    BOOST_REQUIRE_MESSAGE(have_fashion_mnist(), "the example trains on dataset-fashion-mnist, which is not installed");
    TempDir tmp;
    auto run = [&](const std::string& dir, int epochs) {
        const std::string command = std::string(TAPEGRAD_EXAMPLE_BINARY) + " " + (tmp / dir) + " " + std::to_string(epochs) +
                                    " 1500 > '" + (tmp / "example.txt") + "' 2>&1";
        const int status = std::system(command.c_str());
        BOOST_TEST_MESSAGE(read_bytes(tmp.dir / "example.txt"));
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    };
    BOOST_REQUIRE_EQUAL(run("straight", 2), 0);
    BOOST_REQUIRE_EQUAL(run("split", 1), 0);
    BOOST_REQUIRE_EQUAL(run("split", 2), 0);
    BOOST_TEST(read_bytes(tmp.dir / "example.txt").find("resuming") != std::string::npos);
    require_same_checkpoint(tmp.dir / "straight", tmp.dir / "split");
    for (const char* picture : {"filters.png", "reconstructions.png", "loss.png"})
        BOOST_TEST(fs::file_size(tmp.dir / "split" / picture) > 0);
}

// The README's inference example: the run loaded with load_trained_model (no optimizer), its
// codes for the test rows written as .npy: the same bytes as train's own --export-codes.
// A stacked model (more than one layer to load), trained a little so its weights are not the
// initial ones; a directory without a run is refused with a message.
BOOST_AUTO_TEST_CASE(the_inference_example_encodes_what_train_exported) {
    TempDir tmp;
    write_synthetic(tmp);
    const Run trained = run_train("--train-npy " + (tmp / "train.npy") + " --test-npy " + (tmp / "test.npy") +
                                      " --model stacked --layers 16,4 --epochs 2 --export-codes --out " + (tmp / "run"), tmp);
    BOOST_REQUIRE_EQUAL(trained.code, 0);
    auto encode = [&](const std::string& run) {
        const std::string command = std::string(TAPEGRAD_ENCODE_BINARY) + " " + run + " " + (tmp / "test.npy") + " " +
                                    (tmp / "codes.npy") + " > '" + (tmp / "encode.txt") + "' 2>&1";
        const int status = std::system(command.c_str());
        BOOST_TEST_MESSAGE(read_bytes(tmp.dir / "encode.txt"));
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    };
    BOOST_REQUIRE_EQUAL(encode(tmp / "run"), 0);
    const std::string exported = read_bytes(tmp.dir / "run" / "codes-test.npy");
    BOOST_REQUIRE(!exported.empty());
    BOOST_TEST((read_bytes(tmp.dir / "codes.npy") == exported), "the example's codes differ from train's");
    BOOST_TEST(encode(tmp / "nothing-here") == 1);
    BOOST_TEST(read_bytes(tmp.dir / "encode.txt").find("error: ") != std::string::npos);
}

// The masking noise's layout only matters to runs that used masking: others still resume.
BOOST_AUTO_TEST_CASE(a_run_without_masking_resumes_whatever_its_masking_layout) {
    TempDir tmp;
    const fs::path dir = one_synthetic_epoch(tmp, "run");
    nlohmann::json j = read_json(dir / "checkpoint.json");
    BOOST_TEST(j.at("masking_layout") == 3);
    j.erase("masking_layout");
    std::ofstream(dir / "checkpoint.json") << j.dump(1);
    const Run r = run_train("--resume " + dir.string() + " --epochs 2", tmp);
    BOOST_TEST(r.code == 0, r.output);
}

// Version 1 checkpoints kept std::mt19937_64 states; they cannot be continued exactly by the
// counter-based noise, and say so.
BOOST_AUTO_TEST_CASE(old_format_checkpoints_are_refused_with_a_reason) {
    TempDir tmp;
    fs::create_directories(tmp.dir / "old");
    std::ofstream(tmp.dir / "old" / "checkpoint.json") << R"({"format": "tapegrad-train-checkpoint", "version": 1})";
    const Run r = run_train("--resume " + (tmp / "old"), tmp);
    BOOST_TEST(r.code == 3);
    BOOST_TEST(r.output.find("version 1 comes from an older tapegrad") != std::string::npos, r.output);
    BOOST_TEST(r.output.find("cannot continue that run exactly") != std::string::npos, r.output);
}

BOOST_AUTO_TEST_CASE(divergence_exits_with_4_and_keeps_the_checkpoint) {
    TempDir tmp;
    write_synthetic(tmp);
    const Run r = run_train("--train-npy " + (tmp / "train.npy") + " --test-npy " + (tmp / "test.npy") +
                            " --optimizer sgd --lr 1e4 --code 8 --epochs 20 --anomaly --out " + (tmp / "o"),
                        tmp);
    BOOST_TEST(r.code == 4);
    BOOST_TEST(r.output.find("anomaly: op '") != std::string::npos, r.output);
    // It blows up in epoch 2: epoch 1's checkpoint is the last good one and stays.
    BOOST_TEST(r.output.find("last good checkpoint") != std::string::npos, r.output);
    BOOST_TEST(read_json(tmp.dir / "o" / "checkpoint.json").at("epochs_done").get<int>() >= 1);
}

BOOST_AUTO_TEST_SUITE_END()
