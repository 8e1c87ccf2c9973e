#include "tapegrad/train/stop_signal.hpp"

#include <csignal>

#include <unistd.h>

namespace tg::train {
namespace {

volatile std::sig_atomic_t g_signal = 0;

extern "C" void on_stop_signal(int sig) {
    if (g_signal != 0) ::_exit(128 + sig);  // async-signal-safe, unlike std::exit
    g_signal = sig;
}

}  // namespace

void install_stop_handlers() {
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;  // an interrupted write of a checkpoint just continues
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
}

int stop_requested() { return g_signal; }

}  // namespace tg::train
