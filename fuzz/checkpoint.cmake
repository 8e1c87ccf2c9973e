# fuzz_checkpoint: the training tool's checkpoint reader with what it needs from the tool
# (configuration, model factory) and the framework (models are header-only; BLAS for them).
find_package(xtensor-blas REQUIRED)
find_package(nlohmann_json REQUIRED)
set(BLA_VENDOR OpenBLAS)
find_package(BLAS REQUIRED)

add_library(tg_train_fuzz STATIC
  ${TG_ROOT}/tools/train/checkpoint.cpp
  ${TG_ROOT}/tools/train/config.cpp
  ${TG_ROOT}/tools/train/model_factory.cpp
  ${TG_ROOT}/framework/src/blas.cpp)
target_include_directories(tg_train_fuzz PUBLIC ${TG_ROOT}/tools/train ${TG_ROOT})
target_link_libraries(tg_train_fuzz PUBLIC tg_io_fuzz xtensor-blas nlohmann_json::nlohmann_json ${BLAS_LIBRARIES})

add_executable(fuzz_checkpoint fuzz_checkpoint.cpp)
target_link_libraries(fuzz_checkpoint PRIVATE tg_train_fuzz)
