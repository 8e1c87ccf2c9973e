// The linear probe through `train`: at the end of a run, on a finished checkpoint, on raw pixels
// and PCA codes; exported codes; labels and data files as numpy writes them, and the errors for
// labels that do not fit.
#include "train_runner.hpp"

#include <cstring>

namespace fs = std::filesystem;
using namespace tg_test;

namespace {

// A version-1 .npy file of raw little-endian elements with the given dtype and shape text.
template <class E>
void write_npy(const std::string& path, const std::string& descr, const std::string& shape, const std::vector<E>& data,
               bool fortran = false) {
    std::string header = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
                         ", 'shape': " + shape + ", }";
    while ((10 + header.size() + 1) % 64 != 0) header += ' ';
    header += '\n';
    std::ofstream out(path, std::ios::binary);
    out.write("\x93NUMPY\x01\x00", 8);
    const std::uint16_t len = std::uint16_t(header.size());
    out.write(reinterpret_cast<const char*>(&len), 2);
    out << header;
    out.write(reinterpret_cast<const char*>(data.data()), std::streamsize(data.size() * sizeof(E)));
}

// Three classes of 8x8 images in [0, 1]: a bright row, a bright column or a bright diagonal,
// with noise. Training data in float64, Fortran order (what np.save(np.asfortranarray(x))
// writes); test data float32; labels int64 (train) and uint8 (test).
struct LabelledData {
    std::string args;
    std::size_t train_rows = 300, test_rows = 90;
};

LabelledData write_labelled(const TempDir& tmp) {
    LabelledData d;
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<double> noise(0, 0.3);
    auto image = [&](std::size_t cls, std::size_t r, std::size_t c) {
        const bool on = cls == 0 ? r == 3 : cls == 1 ? c == 4 : r == c;
        return std::min(1.0, (on ? 0.7 : 0.0) + noise(rng));
    };
    std::vector<double> train(d.train_rows * 64);  // column-major: element (i, j) at j * rows + i
    std::vector<std::int64_t> train_labels(d.train_rows);
    for (std::size_t i = 0; i < d.train_rows; ++i) {
        train_labels[i] = std::int64_t(i % 3);
        for (std::size_t j = 0; j < 64; ++j) train[j * d.train_rows + i] = image(i % 3, j / 8, j % 8);
    }
    std::vector<float> test(d.test_rows * 64);
    std::vector<std::uint8_t> test_labels(d.test_rows);
    for (std::size_t i = 0; i < d.test_rows; ++i) {
        test_labels[i] = std::uint8_t(i % 3);
        for (std::size_t j = 0; j < 64; ++j) test[i * 64 + j] = float(image(i % 3, j / 8, j % 8));
    }
    write_npy(tmp / "train.npy", "<f8", "(300, 64)", train, true);
    write_npy(tmp / "test.npy", "<f4", "(90, 64)", test);
    write_npy(tmp / "train-labels.npy", "<i8", "(300,)", train_labels);
    write_npy(tmp / "test-labels.npy", "|u1", "(90,)", test_labels);
    d.args = "--train-npy " + (tmp / "train.npy") + " --test-npy " + (tmp / "test.npy") + " --train-labels-npy " +
             (tmp / "train-labels.npy") + " --test-labels-npy " + (tmp / "test-labels.npy") + " ";
    return d;
}

double probe_accuracy(const fs::path& dir) { return read_json(dir / "probe.json").at("test_accuracy").get<double>(); }

}  // namespace

BOOST_AUTO_TEST_SUITE(probe_train)

BOOST_AUTO_TEST_CASE(probe_at_the_end_and_on_a_finished_checkpoint) {
    TempDir tmp;
    const LabelledData data = write_labelled(tmp);
    const std::string dir = tmp / "run";
    const Run r = run_train(data.args + "--model autoencoder --code 8 --epochs 3 --batch 32 --probe --out " + dir, tmp);
    BOOST_REQUIRE_EQUAL(r.code, 0);
    BOOST_TEST(r.output.find("holds float64, Fortran order; converted to float32") != std::string::npos, r.output);
    BOOST_TEST(r.output.find("probe      the model's code (8 features, 3 classes)") != std::string::npos, r.output);
    const double accuracy = probe_accuracy(dir);
    BOOST_TEST(accuracy >= 0.9);
    BOOST_TEST(read_json(fs::path(dir) / "probe.json").at("test_rows").get<int>() == 90);

    // The finished run again, with --probe: nothing is trained, the probe gives the same answer.
    const std::string before = read_bytes(fs::path(dir) / read_json(fs::path(dir) / "checkpoint.json")["parameters"][0]["file"].get<std::string>());
    const Run again = run_train("--resume " + dir + " --probe", tmp);
    BOOST_REQUIRE_EQUAL(again.code, 0);
    BOOST_TEST(again.output.find("nothing to train") != std::string::npos, again.output);
    BOOST_TEST(probe_accuracy(dir) == accuracy);
    BOOST_TEST(read_bytes(fs::path(dir) / read_json(fs::path(dir) / "checkpoint.json")["parameters"][0]["file"].get<std::string>()) == before);
}

BOOST_AUTO_TEST_CASE(baselines_raw_pixels_and_pca_codes) {
    TempDir tmp;
    const LabelledData data = write_labelled(tmp);
    BOOST_REQUIRE_EQUAL(run_train(data.args + "--model pixels --probe --out " + (tmp / "pixels"), tmp).code, 0);
    BOOST_TEST(read_json(tmp.dir / "pixels" / "probe.json").at("dimensions").get<int>() == 64);
    BOOST_TEST(probe_accuracy(tmp.dir / "pixels") >= 0.9);
    BOOST_REQUIRE_EQUAL(run_train(data.args + "--model pca --code 4 --probe --probe-epochs 7 --out " + (tmp / "pca"), tmp).code, 0);
    BOOST_TEST(read_json(tmp.dir / "pca" / "probe.json").at("dimensions").get<int>() == 4);
    BOOST_TEST(read_json(tmp.dir / "pca" / "probe.json").at("epochs").get<int>() == 7);  // --probe-epochs reached it
    BOOST_TEST(probe_accuracy(tmp.dir / "pca") >= 0.9);
    // Without --probe the pixels "model" has nothing to do, and says so.
    const Run idle = run_train(data.args + "--model pixels --out " + (tmp / "idle"), tmp);
    BOOST_TEST(idle.code == 2);
    BOOST_TEST(idle.output.find("serves --probe") != std::string::npos, idle.output);
}

BOOST_AUTO_TEST_CASE(exported_codes_and_reconstructions) {
    TempDir tmp;
    const LabelledData data = write_labelled(tmp);
    const std::string dir = tmp / "run";
    BOOST_REQUIRE_EQUAL(run_train(data.args + "--code 8 --epochs 1 --export-codes --out " + dir, tmp).code, 0);
    BOOST_TEST(tg::io::load_npy<float>(dir + "/codes-train.npy").shape() == (std::array<std::size_t, 2>{300, 8}));
    BOOST_TEST(tg::io::load_npy<float>(dir + "/codes-test.npy").shape() == (std::array<std::size_t, 2>{90, 8}));
    BOOST_TEST(tg::io::load_npy<float>(dir + "/reconstructions-test.npy").shape() == (std::array<std::size_t, 2>{90, 64}));
    BOOST_REQUIRE_EQUAL(run_train(data.args + "--model pca --code 5 --export-codes --out " + (tmp / "pca"), tmp).code, 0);
    BOOST_TEST(tg::io::load_npy<float>(tmp / "pca/codes-test.npy").shape() == (std::array<std::size_t, 2>{90, 5}));
}

BOOST_AUTO_TEST_CASE(labels_that_do_not_fit_are_refused_naming_the_file) {
    TempDir tmp;
    const LabelledData data = write_labelled(tmp);
    const std::string x = "--train-npy " + (tmp / "train.npy") + " --test-npy " + (tmp / "test.npy") + " ";
    write_npy(tmp / "short.npy", "<i8", "(299,)", std::vector<std::int64_t>(299, 1));
    std::vector<std::int32_t> big(90, 1);
    big[17] = 3;  // the training labels name classes 0..2
    write_npy(tmp / "big.npy", "<i4", "(90,)", big);
    write_npy(tmp / "float.npy", "<f4", "(90,)", std::vector<float>(90, 1.0f));
    struct Case {
        std::string args, expected;
        int code;
    };
    const std::vector<Case> cases = {
        {x + "--train-labels-npy " + (tmp / "short.npy") + " --test-labels-npy " + (tmp / "test-labels.npy"),
         "short.npy: holds 299 labels, but " + (tmp / "train.npy") + " has 300 rows", 3},
        {x + "--train-labels-npy " + (tmp / "train-labels.npy") + " --test-labels-npy " + (tmp / "big.npy"),
         "big.npy: label 3 at index 17 is outside 0..2", 3},
        {x + "--train-labels-npy " + (tmp / "train-labels.npy") + " --test-labels-npy " + (tmp / "float.npy"),
         "float.npy", 3},
        {x + "--train-labels-npy " + (tmp / "train-labels.npy"), "give both --train-labels-npy and --test-labels-npy", 2},
        {x + "--probe", "--probe needs class labels", 2},
        {x + "--train-labels-npy " + (tmp / "missing.npy") + " --test-labels-npy " + (tmp / "test-labels.npy"),
         "missing.npy: no such file", 2},
    };
    for (const Case& c : cases) {
        const Run r = run_train(c.args + " --code 4 --epochs 1 --out " + (tmp / "bad"), tmp);
        BOOST_TEST(r.code == c.code, c.args << "\n" << r.output);
        BOOST_TEST(r.output.find(c.expected) != std::string::npos, "expected \"" << c.expected << "\" in:\n" << r.output);
    }
}

BOOST_AUTO_TEST_SUITE_END()
