# FAREGATE_FUZZ_ENGINE=afl: the fuzz targets become AFL++ programs built with g++.
#
# Coverage comes from g++'s SanitizerCoverage (-fsanitize-coverage=trace-pc,trace-cmp) turned into
# AFL's edge map by afl_trace_pc.cpp; afl-compiler-rt.o (fork server, shared memory, CmpLog) and
# libAFLDriver.a (a main that calls LLVMFuzzerTestOneInput in persistent mode) come from Debian's
# afl++ package. The project libraries a target links are instrumented too, since that is where
# the parsers live. tools/fuzz.sh configures, builds and runs this; see docs/fuzzing.md.

if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  message(FATAL_ERROR "FAREGATE_FUZZ_ENGINE=afl instruments with g++'s "
                      "-fsanitize-coverage=trace-pc; configure with g++ (not ${CMAKE_CXX_COMPILER_ID})")
endif()

set(_afl_dirs /usr/lib/afl /usr/local/lib/afl)
if(DEFINED ENV{AFL_PATH})
  list(PREPEND _afl_dirs "$ENV{AFL_PATH}")
endif()
find_file(FAREGATE_AFL_DRIVER libAFLDriver.a PATHS ${_afl_dirs} NO_DEFAULT_PATH)
find_file(FAREGATE_AFL_COMPILER_RT afl-compiler-rt.o PATHS ${_afl_dirs} NO_DEFAULT_PATH)
if(NOT FAREGATE_AFL_DRIVER OR NOT FAREGATE_AFL_COMPILER_RT)
  message(FATAL_ERROR "FAREGATE_FUZZ_ENGINE=afl needs AFL++'s libAFLDriver.a and afl-compiler-rt.o "
                      "(Debian package afl++; tools/fuzz.sh installs it). Looked in: ${_afl_dirs}")
endif()

set(FAREGATE_FUZZ_SANITIZE "address,undefined" CACHE STRING
    "Sanitizers for AFL++ fuzz builds (comma-separated, empty for none)")

set(_afl_coverage_flags -fsanitize-coverage=trace-pc,trace-cmp)
set(_afl_sanitizer_flags "")
if(FAREGATE_FUZZ_SANITIZE)
  # No recovery: a sanitizer report must end the run so that afl-fuzz records it as a crash.
  set(_afl_sanitizer_flags -fsanitize=${FAREGATE_FUZZ_SANITIZE} -fno-sanitize-recover=all
      -fno-omit-frame-pointer)
endif()

# The hook itself is not instrumented (it would call itself). Anything that links an
# instrumented library gets the hook, AFL's runtime and the sanitizer runtimes with it.
add_library(faregate_fuzz_afl_runtime STATIC afl_trace_pc.cpp)
target_link_libraries(faregate_fuzz_afl_runtime INTERFACE ${FAREGATE_AFL_COMPILER_RT})
target_link_options(faregate_fuzz_afl_runtime INTERFACE ${_afl_sanitizer_flags})
faregate_strict(faregate_fuzz_afl_runtime)

# Instruments `target` and, recursively, the project's static libraries it links.
function(_faregate_afl_instrument target)
  if(NOT TARGET ${target})
    return()  # a plain library name or a linker flag: not ours to instrument
  endif()
  get_target_property(_aliased ${target} ALIASED_TARGET)
  if(_aliased)
    set(target ${_aliased})
  endif()
  get_target_property(_imported ${target} IMPORTED)
  get_target_property(_type ${target} TYPE)
  if(_imported OR NOT _type MATCHES "^(STATIC_LIBRARY|OBJECT_LIBRARY)$")
    return()
  endif()
  get_target_property(_done ${target} FAREGATE_AFL_INSTRUMENTED)
  if(_done OR target STREQUAL "faregate_fuzz_afl_runtime")
    return()
  endif()
  set_property(TARGET ${target} PROPERTY FAREGATE_AFL_INSTRUMENTED TRUE)
  set_property(TARGET ${target} APPEND PROPERTY COMPILE_OPTIONS
               ${_afl_coverage_flags} ${_afl_sanitizer_flags})
  set_property(TARGET ${target} APPEND PROPERTY INTERFACE_LINK_LIBRARIES faregate_fuzz_afl_runtime)
  get_target_property(_deps ${target} LINK_LIBRARIES)
  if(_deps)
    foreach(_dep IN LISTS _deps)
      _faregate_afl_instrument(${_dep})
    endforeach()
  endif()
endfunction()

# faregate_fuzz_afl(target DEPS...): makes `target` (its sources already added) an AFL++ program.
function(faregate_fuzz_afl target)
  target_compile_options(${target} PRIVATE ${_afl_coverage_flags} ${_afl_sanitizer_flags})
  target_link_libraries(${target} PRIVATE faregate_fuzz_afl_runtime ${FAREGATE_AFL_DRIVER})
  foreach(_dep IN LISTS ARGN)
    _faregate_afl_instrument(${_dep})
  endforeach()
endfunction()
