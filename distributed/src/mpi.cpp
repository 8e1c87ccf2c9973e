#include "tapegrad/distributed/mpi.hpp"

#include <mpi.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace tg::mpi {
namespace {

// MPI counts are int: larger buffers go in pieces.
constexpr std::size_t kMaxCount = std::size_t(INT_MAX) / 2;

void check(int code, const char* call) {
    if (code == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(code, text, &length);
    throw std::runtime_error(std::string(call) + " failed: " + std::string(text, std::size_t(length)));
}

template <class T>
void allreduce_sum(T* data, std::size_t n, MPI_Datatype type) {
    for (std::size_t done = 0; done < n; done += kMaxCount)
        check(MPI_Allreduce(MPI_IN_PLACE, data + done, int(std::min(kMaxCount, n - done)), type, MPI_SUM, MPI_COMM_WORLD),
              "MPI_Allreduce");
}

}  // namespace

bool launched_by_mpi() {
    for (const char* variable : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "MPI_LOCALNRANKS"})
        if (std::getenv(variable)) return true;
    return false;
}

Communicator::Communicator(int& argc, char**& argv) {
    int provided = 0;
    check(MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    // Errors come back as codes (turned into exceptions above) instead of aborting inside MPI.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
}

Communicator::~Communicator() { MPI_Finalize(); }

void Communicator::sum(double* data, std::size_t n) { allreduce_sum(data, n, MPI_DOUBLE); }
void Communicator::sum(float* data, std::size_t n) { allreduce_sum(data, n, MPI_FLOAT); }

void Communicator::broadcast(void* data, std::size_t bytes, int root) {
    auto* p = static_cast<char*>(data);
    for (std::size_t done = 0; done < bytes; done += kMaxCount)
        check(MPI_Bcast(p + done, int(std::min(kMaxCount, bytes - done)), MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
}

void Communicator::abort(int code) {
    std::fflush(nullptr);
    MPI_Abort(MPI_COMM_WORLD, code);
    std::exit(code);  // MPI_Abort does not return; this keeps [[noreturn]] honest if it did
}

}  // namespace tg::mpi
