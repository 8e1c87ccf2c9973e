#pragma once
// The command line of `train`. Model, optimizer and training options are not listed here:
// they come from the library's declarations (registry.hpp, training_options()).
#include <tapegrad/train/config.hpp>

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <utility>

namespace train_tool {

// Process exit codes, and what each means (--help lists this table).
enum ExitCode : int {
    kExitOk = 0,
    kExitFailure = 1,
    kExitUsage = 2,
    kExitCorruptData = 3,
    kExitDiverged = 4,
    kExitInterrupted = 130  // 128 + SIGINT; SIGTERM gives 143
};
inline constexpr std::pair<ExitCode, const char*> kExitCodeMeanings[] = {
    {kExitOk, "success"},
    {kExitFailure, "unexpected failure (e.g. the output cannot be written)"},
    {kExitUsage, "bad command line: unknown option, invalid value, missing file, resume conflict"},
    {kExitCorruptData, "corrupt or unreadable data or checkpoint file (the message names it)"},
    {kExitDiverged, "the loss became NaN/Inf; the last good checkpoint is kept"},
    {kExitInterrupted, "interrupted by SIGINT after saving a checkpoint (143 for SIGTERM)"},
};

// Not part of the run's identity: may differ between a run and its resumption.
struct RunOptions {
    std::string out = "out/train";
    std::string resume;                 // checkpoint directory, or empty
    int threads = 1;
    int checkpoint_every = 1;           // epochs; 0: only at the end (and on SIGINT)
    bool anomaly = false;
    std::string progress = "auto";      // auto|bar|lines|none
    std::size_t pictures = 16;          // test images in the reconstruction picture
    std::size_t stop_after_steps = 0;   // testing: raise SIGINT after this many steps (0: never)
    bool probe = false;                 // a linear probe on the codes at the end
    int probe_epochs = 30;
    bool export_codes = false;          // codes (and test reconstructions) as .npy at the end
    std::string command_line;           // for the record
};

struct CommandLine {
    std::optional<std::string> model, optimizer;  // when given
    // Options given explicitly, by JSON key, as JSON values of their declared type.
    nlohmann::json model_options = nlohmann::json::object();
    nlohmann::json optimizer_options = nlohmann::json::object();
    nlohmann::json training = nlohmann::json::object();
    RunOptions run;
};

// Parses argv. Returns -1 to go on, or the exit code to return at once (0 after --help, 2
// after an error, whose message has been printed).
int parse_command_line(int argc, char** argv, CommandLine& out);

// The run's configuration: the command line's, or for a resumed run the checkpoint's with the
// few settings a resumed run may change (--epochs, the data location). Throws
// tg::train::UsageError for an option the chosen kind does not have or that contradicts the
// checkpoint.
tg::train::RunConfig make_config(const CommandLine& cl, const tg::train::RunConfig* saved);

}  // namespace train_tool
