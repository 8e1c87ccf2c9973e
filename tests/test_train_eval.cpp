// How much the Trainer evaluates: eval_every (evaluate every N epochs, always the last) and
// eval_train_rows (the train MSE over a fixed, evenly spread subset). Epochs without
// evaluation must be honest in the result, the checkpoint's history (through a resume) and
// metrics.json, must not change what is trained, and bad values are refused naming the option.
#include "train_runner.hpp"

#include <tapegrad/models/autoencoder.hpp>
#include <tapegrad/optim.hpp>
#include <tapegrad/train/checkpoint.hpp>
#include <tapegrad/train/evaluation.hpp>
#include <tapegrad/train/trainer.hpp>

#include <cmath>
#include <cstring>

namespace fs = std::filesystem;
namespace tt = tg::train;
using namespace tg_test;

namespace {

tg::Matrix<float> uniform_rows(std::size_t rows, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> u(0, 1);
    tg::Matrix<float> m = tg::make_matrix<float>(rows, 64);
    for (float& v : m) v = u(rng);
    return m;
}

// A small tied autoencoder on 8x8 rows: 300 training rows (10 steps of 32), 60 test rows.
struct Setup {
    tg::Matrix<float> train = uniform_rows(300, 3), test = uniform_rows(60, 4);
    tg::models::Autoencoder<float> model{{.input = 64, .code = 4}};
    tg::Adam<float> adam{model.parameters(), 1e-2};

    tt::TrainerOptions options(int epochs, int eval_every, std::size_t eval_train_rows, const std::string& out = "") {
        tt::TrainerOptions o;
        o.epochs = epochs;
        o.batch = 32;
        o.eval_every = eval_every;
        o.eval_train_rows = eval_train_rows;
        o.out = out;
        o.progress = tt::ProgressMode::none;
        o.verbose = false;
        return o;
    }
    std::vector<int> evaluated(const tt::TrainResult& r) const {
        std::vector<int> epochs;
        for (const tt::EpochRecord& e : r.history) {
            BOOST_TEST(e.train_mse.has_value() == e.test_mse.has_value());
            if (e.evaluated()) epochs.push_back(e.epoch);
        }
        return epochs;
    }
    std::string parameter_bytes() {
        std::string bytes;
        for (const tg::Parameter<float>* p : model.parameters())
            bytes.append(reinterpret_cast<const char*>(p->value.data()), p->value.size() * sizeof(float));
        return bytes;
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(train_eval)

BOOST_AUTO_TEST_CASE(the_train_subset_is_evenly_spread_deterministic_and_of_the_stated_size) {
    const std::vector<std::size_t> rows = tt::evaluation_rows(60000, 10000);
    BOOST_TEST(rows.size() == 10000u);
    BOOST_TEST(rows.front() == 0u);
    for (std::size_t i = 0; i < rows.size(); ++i) BOOST_TEST_REQUIRE(rows[i] == i * 6);  // every 6th row
    BOOST_TEST((rows == tt::evaluation_rows(60000, 10000)));  // a function of (n, count) alone
    BOOST_TEST((tt::evaluation_rows(7, 3) == std::vector<std::size_t>{0, 2, 4}));
    // Uneven ratios: distinct, increasing, inside the set, gaps differing by at most one row.
    const std::vector<std::size_t> odd = tt::evaluation_rows(1000, 333);
    BOOST_TEST(odd.size() == 333u);
    for (std::size_t i = 1; i < odd.size(); ++i) BOOST_TEST_REQUIRE((odd[i] - odd[i - 1] == 3 || odd[i] - odd[i - 1] == 4));
    BOOST_TEST(odd.back() < 1000u);
    // 0, or at least the set's size: every row.
    for (std::size_t count : {std::size_t{0}, std::size_t{1000}, std::size_t{5000}}) {
        const std::vector<std::size_t> all = tt::evaluation_rows(1000, count);
        BOOST_TEST_REQUIRE(all.size() == 1000u);
        for (std::size_t i = 0; i < all.size(); ++i) BOOST_TEST_REQUIRE(all[i] == i);
    }
}

// eval_every 2 over 5 epochs evaluates epochs 2, 4 and 5 (the last); the result's MSEs are the
// last epoch's. The train MSE is exactly the MSE of the stated rows, the test MSE of all rows.
BOOST_AUTO_TEST_CASE(eval_every_skips_epochs_and_the_subset_is_what_the_record_says) {
    Setup s;
    tt::Trainer<float> trainer(s.model, s.adam, s.train, s.test, s.options(5, 2, 50));
    const tt::TrainResult r = trainer.fit();
    BOOST_TEST((s.evaluated(r) == std::vector<int>{2, 4, 5}));
    for (const tt::EpochRecord& e : r.history) {
        BOOST_TEST(e.train_mse_rows == (e.evaluated() ? 50u : 0u));
        BOOST_TEST((e.eval_seconds > 0) == e.evaluated());
        BOOST_TEST(e.gather_seconds > 0);
        BOOST_TEST(e.gather_seconds < e.seconds);
    }
    BOOST_TEST(r.mse_epoch == 5);
    BOOST_TEST(r.train_mse_rows == 50u);
    BOOST_TEST(r.train_mse == *r.history.back().train_mse);
    BOOST_TEST(r.test_mse == *r.history.back().test_mse);

    tg::Matrix<float> subset = tg::make_matrix<float>(50, 64);
    const std::vector<std::size_t> rows = tt::evaluation_rows(300, 50);
    for (std::size_t i = 0; i < rows.size(); ++i) std::copy_n(s.train.data() + rows[i] * 64, 64, subset.data() + i * 64);
    BOOST_TEST(r.train_mse == trainer.reconstruction_mse(subset));
    BOOST_TEST(r.test_mse == trainer.reconstruction_mse(s.test));
    BOOST_TEST(r.train_mse != trainer.reconstruction_mse(s.train));  // a subset indeed
}

// Evaluation reads the model only: how often it runs and over which rows does not change a bit
// of what is trained.
BOOST_AUTO_TEST_CASE(how_much_is_evaluated_does_not_change_the_training) {
    Setup every, rarely;
    tt::Trainer<float>(every.model, every.adam, every.train, every.test, every.options(4, 1, 0)).fit();
    const tt::TrainResult r = tt::Trainer<float>(rarely.model, rarely.adam, rarely.train, rarely.test, rarely.options(4, 3, 7)).fit();
    BOOST_TEST((rarely.evaluated(r) == std::vector<int>{3, 4}));
    BOOST_TEST((every.parameter_bytes() == rarely.parameter_bytes()));
}

// A run of 3 epochs resumed to 5, against 5 straight, both evaluating every 2nd epoch: the
// unevaluated epoch 1 stays unevaluated through the checkpoint, the split run's epoch 3 (its
// last) was evaluated, and the trained bits and shared measurements agree exactly.
BOOST_AUTO_TEST_CASE(unevaluated_epochs_round_trip_through_checkpoints_and_resume_stays_exact) {
    TempDir tmp;
    Setup straight, split, resumed;
    const tt::TrainResult a = tt::Trainer<float>(straight.model, straight.adam, straight.train, straight.test,
                                                 straight.options(5, 2, 50, tmp / "straight")).fit();
    tt::Trainer<float>(split.model, split.adam, split.train, split.test, split.options(3, 2, 50, tmp / "split")).fit();
    const nlohmann::json saved = read_json(tmp.dir / "split" / "checkpoint.json");
    BOOST_TEST(saved.at("history")[0].at("train_mse").is_null());
    BOOST_TEST(saved.at("history")[0].at("test_mse").is_null());
    BOOST_TEST(saved.at("history")[2].at("train_mse").is_number());

    tt::Trainer<float> continued(resumed.model, resumed.adam, resumed.train, resumed.test,
                                 resumed.options(5, 2, 50, tmp / "split"));
    continued.resume();
    const tt::TrainResult b = continued.fit();
    BOOST_TEST((straight.evaluated(a) == std::vector<int>{2, 4, 5}));
    BOOST_TEST((resumed.evaluated(b) == std::vector<int>{2, 3, 4, 5}));
    BOOST_TEST((straight.parameter_bytes() == resumed.parameter_bytes()));
    for (int e : {2, 4, 5}) {
        BOOST_TEST(*a.history[std::size_t(e - 1)].train_mse == *b.history[std::size_t(e - 1)].train_mse);
        BOOST_TEST(*a.history[std::size_t(e - 1)].test_mse == *b.history[std::size_t(e - 1)].test_mse);
    }
    BOOST_TEST(a.train_mse == b.train_mse);

    const nlohmann::json metrics = read_json(tmp.dir / "split" / "metrics.json");
    BOOST_TEST(metrics.at("mse_epoch").get<int>() == 5);
    BOOST_TEST(metrics.at("train_mse_rows").get<std::size_t>() == 50u);
    BOOST_TEST(metrics.at("train_rows").get<std::size_t>() == 300u);
    BOOST_TEST(metrics.at("test_mse_rows").get<std::size_t>() == 60u);
    BOOST_TEST(metrics.at("evaluated_epochs").get<int>() == 4);
    BOOST_TEST(metrics.at("train_mse").get<double>() == b.train_mse);
    BOOST_TEST(fs::file_size(tmp.dir / "split" / "loss.png") > 0);
}

// Histories from before eval_every and gather timing (no "train_mse_rows", "gather_seconds" or
// "epoch_gather_seconds") still load; a half-evaluated record does not.
BOOST_AUTO_TEST_CASE(old_histories_load_and_half_evaluated_records_are_refused) {
    const nlohmann::json old_record = {{"epoch", 1},   {"train_loss", 0.5},  {"train_mse", 0.25},
                                       {"test_mse", 0.3}, {"seconds", 1.0}, {"eval_seconds", 0.1}};
    const auto r = old_record.get<tt::EpochRecord>();
    BOOST_TEST(r.evaluated());
    BOOST_TEST(*r.train_mse == 0.25);
    BOOST_TEST(r.train_mse_rows == 0u);
    BOOST_TEST(r.gather_seconds == 0.0);
    const nlohmann::json old_state = {{"epochs_done", 1},    {"step_in_epoch", 0}, {"epoch_loss_sum", 0.0},
                                      {"epoch_loss_count", 0}, {"epoch_seconds", 0.0}, {"history", nlohmann::json::array({old_record})}};
    BOOST_TEST(tt::read_training_state(old_state, "old.json", 10).history.size() == 1u);

    nlohmann::json half = old_record;
    half["train_mse"] = nullptr;
    nlohmann::json state = old_state;
    state["history"] = nlohmann::json::array({half});  // not {half}: clang reads a one-element braced list as a copy
    try {
        tt::read_training_state(state, "half.json", 10);
        BOOST_FAIL("a record with a train MSE but no test MSE was accepted");
    } catch (const tg::io::FormatError& e) {
        BOOST_TEST(std::strstr(e.what(), "half.json") != nullptr, e.what());
        BOOST_TEST(std::strstr(e.what(), "both be numbers (evaluated) or both null") != nullptr, e.what());
    }
}

// The whole path of `train --resume` on a checkpoint written before the evaluation options:
// no such keys in its configuration or history.
BOOST_AUTO_TEST_CASE(train_resumes_a_checkpoint_from_before_the_evaluation_options) {
    TempDir tmp;
    write_synthetic(tmp);
    const std::string dir = tmp / "old";
    BOOST_REQUIRE_EQUAL(run_train("--train-npy " + (tmp / "train.npy") + " --test-npy " + (tmp / "test.npy") +
                                      " --code 4 --epochs 1 --out " + dir, tmp).code, 0);
    nlohmann::json j = read_json(fs::path(dir) / "checkpoint.json");
    j["config"]["training"].erase("eval_every");
    j["config"]["training"].erase("eval_train_rows");
    j.erase("epoch_gather_seconds");
    for (nlohmann::json& e : j["history"]) {
        e.erase("train_mse_rows");
        e.erase("gather_seconds");
    }
    std::ofstream(fs::path(dir) / "checkpoint.json") << j.dump(1);
    const Run r = run_train("--resume " + dir + " --epochs 2", tmp);
    BOOST_TEST(r.code == 0, r.output);
    BOOST_TEST(read_json(fs::path(dir) / "checkpoint.json").at("history").size() == 2u);
}

// The options are part of the recorded configuration; a resumed run may change them (they do
// not change what is trained), and bad values are refused naming the option and the value,
// on the command line, in a checkpoint and in the library.
BOOST_AUTO_TEST_CASE(evaluation_options_are_recorded_changeable_on_resume_and_checked) {
    TempDir tmp;
    write_synthetic(tmp);
    const std::string data = "--train-npy " + (tmp / "train.npy") + " --test-npy " + (tmp / "test.npy") + " --code 4 ";
    const std::string dir = tmp / "run";
    BOOST_REQUIRE_EQUAL(run_train(data + "--epochs 3 --eval-every 2 --eval-train-rows 100 --out " + dir, tmp).code, 0);
    const nlohmann::json training = read_json(fs::path(dir) / "metrics.json").at("config").at("training");
    BOOST_TEST(training.at("eval_every").get<int>() == 2);
    BOOST_TEST(training.at("eval_train_rows").get<int>() == 100);
    // ... and the binary's Trainer did what they say: epochs 2 and 3 (the last) evaluated, on 100 rows
    const auto evaluated = [&] {
        std::vector<int> epochs;
        const nlohmann::json checkpoint = read_json(fs::path(dir) / "checkpoint.json");
        for (const nlohmann::json& e : checkpoint.at("history"))
            if (!e.at("train_mse").is_null()) {
                epochs.push_back(e.at("epoch").get<int>());
                BOOST_TEST(e.at("train_mse_rows").get<std::size_t>() == (epochs.back() <= 3 ? 100u : 300u));
            }
        return epochs;
    };
    BOOST_TEST(evaluated() == (std::vector<int>{2, 3}), boost::test_tools::per_element());
    BOOST_REQUIRE_EQUAL(run_train("--resume " + dir + " --epochs 7 --eval-every 3 --eval-train-rows 0", tmp).code, 0);
    BOOST_TEST(read_json(fs::path(dir) / "checkpoint.json").at("config").at("training").at("eval_every").get<int>() == 3);
    BOOST_TEST(evaluated() == (std::vector<int>{2, 3, 6, 7}), boost::test_tools::per_element());

    const std::vector<std::pair<std::string, std::string>> cases{
        {"--eval-every 0", "--eval-every must be at least 1, got 0"},
        {"--eval-every -2", "--eval-every: '-2' is not a non-negative integer"},
        {"--eval-every 2.5", "--eval-every: '2.5' is not a non-negative integer"},
        {"--eval-train-rows ten", "--eval-train-rows: 'ten' is not a non-negative integer"},
        {"--eval-train-rows 99999999999", "--eval-train-rows must be at most 4294967296, got 99999999999"},
    };
    for (const auto& [args, expected] : cases) {
        const Run r = run_train(data + args + " --out " + (tmp / "bad"), tmp);
        BOOST_TEST(r.code == 2, args);
        BOOST_TEST(r.output.find(expected) != std::string::npos, args << " -> " << r.output);
    }
    nlohmann::json j = read_json(fs::path(dir) / "checkpoint.json");
    j["config"]["training"]["eval_every"] = 0;
    std::ofstream(fs::path(dir) / "checkpoint.json") << j.dump(1);
    const Run bad_checkpoint = run_train("--resume " + dir + " --epochs 3", tmp);
    BOOST_TEST(bad_checkpoint.code == 2);
    BOOST_TEST(bad_checkpoint.output.find("--eval-every must be at least 1, got 0") != std::string::npos, bad_checkpoint.output);

    Setup s;
    try {
        tt::Trainer<float>(s.model, s.adam, s.train, s.test, s.options(1, 0, 0));
        BOOST_FAIL("eval_every 0 was accepted");
    } catch (const tt::UsageError& e) {
        BOOST_TEST(std::string(e.what()).find("eval_every (evaluate every N epochs) must be at least 1, not 0") != std::string::npos,
                   e.what());
    }
}

BOOST_AUTO_TEST_SUITE_END()
