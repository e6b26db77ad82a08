# Proves that the emulated CUDA suite catches kernel bugs: plants each bug of mutants.cmake, one at a time, in a copy
# of native/, rebuilds the emulated library and the one test program, runs that program on the mutated op only
# (QUARRY_TEST_FILTER) and requires it to fail; the unmutated copy must pass the same runs first.
#   cmake -DNATIVE=<native/> -DWORK=<scratch folder> [-DOPENBLAS_DIR=<dir>] [-DJOBS=2] [-DONLY=<regex>] -P run_mutants.cmake
# (ONLY: just the mutants whose name matches).
# Writes WORK/mutants.md (one row per mutant) and fails if any mutant survives.
cmake_minimum_required(VERSION 3.18)
if(NOT JOBS)
  set(JOBS 2)
endif()
set(src "${WORK}/src/native")
set(build "${WORK}/build")
# A fresh build: copied sources keep their times, so objects left by an interrupted run could pass for them.
file(REMOVE_RECURSE "${WORK}/src" "${build}")
file(COPY "${NATIVE}/" DESTINATION "${src}")
file(COPY "${NATIVE}/../cmake/" DESTINATION "${WORK}/src/cmake")
if(OPENBLAS_DIR)
  set(blas -DQUARRY_OPENBLAS=ON "-DQUARRY_OPENBLAS_DIR=${OPENBLAS_DIR}")
  set(env "LD_LIBRARY_PATH=${OPENBLAS_DIR}")
else()
  set(blas -DQUARRY_OPENBLAS=OFF)
  set(env "")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" -S "${src}" -B "${build}" -DCMAKE_BUILD_TYPE=Release -DQUARRY_CUDA=OFF
                        -DQUARRY_CUDA_EMU=ON ${blas}
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring the mutation build failed")
endif()

set(names "")
# Optional after `planted`: extra VAR=value settings for the test run (e.g. QY_CUDA_EMU_BLOCKS=0).
macro(quarry_mutant name file program filter original planted)
  list(APPEND names "${name}")
  set("m_${name}_env" ${ARGN})
  set("m_${name}_file" "${file}")
  set("m_${name}_program" "${program}")
  set("m_${name}_filter" "${filter}")
  set("m_${name}_original" "${original}")
  set("m_${name}_planted" "${planted}")
endmacro()
include("${CMAKE_CURRENT_LIST_DIR}/mutants.cmake")

# Builds <program>_cuda_emu and runs it filtered; sets <out_rc> (0 = suite passed) and <out_log>.
function(run_suite program filter extra_env out_rc out_log)
  execute_process(COMMAND "${CMAKE_COMMAND}" --build "${build}" --target ${program}_cuda_emu --parallel ${JOBS}
                  RESULT_VARIABLE brc OUTPUT_VARIABLE bout ERROR_VARIABLE bout)
  if(NOT brc EQUAL 0)
    message(FATAL_ERROR "building ${program}_cuda_emu failed:\n${bout}")
  endif()
  # A planted bug may make a kernel loop forever: the emulator's watchdog ends any launch after 60 s.
  execute_process(COMMAND "${CMAKE_COMMAND}" -E env ${env} QY_CUDA_EMU_WATCHDOG=60 ${extra_env} QUARRY_REQUIRE_GPU=1
                          "QUARRY_TEST_FILTER=${filter}"
                          "${build}/${program}_cuda_emu"
                  RESULT_VARIABLE trc OUTPUT_VARIABLE tout ERROR_VARIABLE tout TIMEOUT 600)
  set(${out_rc} "${trc}" PARENT_SCOPE)
  set(${out_log} "${tout}" PARENT_SCOPE)
endfunction()

set(report "| planted bug | file | suite run | result |\n|---|---|---|---|\n")
set(survivors 0)
foreach(name ${names})
  if(ONLY AND NOT name MATCHES "${ONLY}")
    continue()
  endif()
  set(file "${src}/${m_${name}_file}")
  set(program "${m_${name}_program}")
  set(filter "${m_${name}_filter}")
  file(READ "${file}" pristine)
  string(FIND "${pristine}" "${m_${name}_original}" first)
  string(FIND "${pristine}" "${m_${name}_original}" last REVERSE)
  if(first EQUAL -1 OR NOT first EQUAL last)
    message(FATAL_ERROR "mutant '${name}': its original text must occur exactly once in ${m_${name}_file}")
  endif()
  # The real source first: the same filtered run must pass and must have run CUDA cases.
  run_suite(${program} "${filter}" "${m_${name}_env}" rc log)
  if(NOT rc EQUAL 0 OR NOT log MATCHES "PASS cuda ")
    message(FATAL_ERROR "mutant '${name}': the unmutated ${program}_cuda_emu run (filter '${filter}') did not pass "
                        "with CUDA cases:\n${log}")
  endif()
  string(REPLACE "${m_${name}_original}" "${m_${name}_planted}" mutated "${pristine}")
  file(WRITE "${file}" "${mutated}")
  run_suite(${program} "${filter}" "${m_${name}_env}" rc log)
  file(WRITE "${file}" "${pristine}")
  if(rc EQUAL 0)
    set(result "SURVIVED")
    math(EXPR survivors "${survivors} + 1")
  else()
    string(REGEX MATCH "(cuda_emu: [^\n]*|FAIL cuda [^\n]*)" first_failure "${log}")
    string(REPLACE "|" "/" first_failure "${first_failure}")
    string(SUBSTRING "${first_failure}" 0 150 first_failure)
    if(first_failure STREQUAL "")
      string(REGEX MATCH "[^\n]*\n?$" last_line "${log}")
      string(STRIP "${last_line}" last_line)
      set(first_failure "the test program exited with '${rc}': ${last_line}")
    endif()
    set(result "caught: ${first_failure}")
  endif()
  message("${name}: ${result}")
  string(APPEND report "| ${name} | ${m_${name}_file} | ${program} '${filter}' | ${result} |\n")
endforeach()
file(WRITE "${WORK}/mutants.md" "${report}")
list(LENGTH names total)
message("${total} planted bugs, ${survivors} survived; table in ${WORK}/mutants.md")
if(survivors GREATER 0)
  message(FATAL_ERROR "the emulated CUDA suite missed ${survivors} planted bug(s)")
endif()
