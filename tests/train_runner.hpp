#pragma once
// Running the `train` binary from a test, and comparing what its runs leave behind. Shared by
// the train suites (test_train.cpp, test_train_paths.cpp). TAPEGRAD_TRAIN_BINARY is the binary's
// path, set by tests/CMakeLists.txt.
#include "temp_dir.hpp"
#include "tapegrad/io/npy.hpp"

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <sys/wait.h>

#ifndef TAPEGRAD_TRAIN_BINARY
#error "the train suites need TAPEGRAD_TRAIN_BINARY, the path of the train binary (set by tests/CMakeLists.txt)"
#endif

namespace tg_test {

namespace fs = std::filesystem;

struct Run {
    int code = -1;
    std::string output;  // stdout and stderr
};

// Runs `train <args>` with its output captured in a file (no shell pipes: the exit status is
// the program's own).
inline Run run_train(const std::string& args, const TempDir& tmp) {
    const std::string log = tmp / "log.txt";
    const std::string command = std::string(TAPEGRAD_TRAIN_BINARY) + " --progress none " + args + " > '" + log + "' 2>&1";
    const int status = std::system(command.c_str());
    Run r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::ifstream in(log);
    r.output.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    BOOST_TEST_MESSAGE("train " << args << " -> " << r.code << "\n" << r.output);
    return r;
}

inline std::string read_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline nlohmann::json read_json(const fs::path& p) {
    std::ifstream in(p);
    return nlohmann::json::parse(in);
}

// The arrays the final checkpoints name must be equal byte for byte, and so must the histories'
// losses and MSEs, and which epochs were evaluated (times differ, of course).
inline void require_same_checkpoint(const fs::path& a, const fs::path& b) {
    const nlohmann::json ja = read_json(a / "checkpoint.json"), jb = read_json(b / "checkpoint.json");
    BOOST_REQUIRE_EQUAL(ja.at("parameters").size(), jb.at("parameters").size());
    std::vector<std::string> files;
    for (const auto& p : ja.at("parameters")) files.push_back(p.at("file"));
    for (const auto& f : ja.at("optimizer_state").at("buffers")) files.push_back(f);
    BOOST_REQUIRE(!files.empty());
    for (const std::string& f : files) {
        const std::string x = read_bytes(a / f), y = read_bytes(b / f);
        BOOST_REQUIRE(!x.empty());
        BOOST_TEST((x == y), "checkpoint file " << f << " differs between the straight and the resumed run");
    }
    BOOST_TEST(ja.at("optimizer_state").at("steps") == jb.at("optimizer_state").at("steps"));
    BOOST_REQUIRE_EQUAL(ja.at("history").size(), jb.at("history").size());
    for (std::size_t e = 0; e < ja.at("history").size(); ++e)
        for (const char* key : {"train_loss", "train_mse", "test_mse", "train_mse_rows"})  // null: not evaluated
            BOOST_TEST(ja.at("history")[e].at(key) == jb.at("history")[e].at(key), "epoch " << e + 1 << ": " << key);
}

// Small synthetic images (8x8, in [0, 1]) written as .npy: runs in milliseconds.
inline void write_synthetic(const TempDir& tmp) {
    std::mt19937_64 rng(3);
    std::uniform_real_distribution<float> u(0, 1);
    for (auto [name, rows] : {std::pair<const char*, std::size_t>{"train.npy", 300}, {"test.npy", 60}}) {
        tg::Matrix<float> m = tg::make_matrix<float>(rows, 64);
        for (float& v : m) v = u(rng);
        tg::io::save_npy<float>(tmp / name, m);
    }
}

// Traces of a save that did not finish: temporary files, or arrays the JSON does not name
// (written for the next checkpoint, or the previous one's not yet pruned).
inline std::size_t mid_save_leftovers(const fs::path& dir) {
    const nlohmann::json j = read_json(dir / "checkpoint.json");
    std::set<std::string> named;
    for (const auto& p : j.at("parameters")) named.insert(p.at("file").get<std::string>());
    for (const auto& f : j.at("optimizer_state").at("buffers")) named.insert(f.get<std::string>());
    std::size_t n = 0;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
        const std::string name = e.path().filename().string(), rel = fs::relative(e.path(), dir).string();
        if (name.find(".tmp.") != std::string::npos || (e.path().extension() == ".npy" && !named.count(rel))) ++n;
    }
    return n;
}

inline bool have_fashion_mnist() { return fs::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"); }

}  // namespace tg_test
