# Project-wide compile settings. Only project code gets the strict warnings; generated protobuf
# code gets its own, laxer settings in proto/CMakeLists.txt.
set(FAREGATE_WARNINGS -Wall -Wextra -Werror -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
    -Wunused -Woverloaded-virtual -Wformat=2)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # g++ 12 reports std::string copies inlined at -O2 as overlapping memcpy (GCC bug 105329).
  list(APPEND FAREGATE_WARNINGS -Wno-restrict)
endif()

set(FAREGATE_SANITIZER_FLAGS "")
if(FAREGATE_SANITIZE)
  string(REPLACE "," ";" _sanitizers "${FAREGATE_SANITIZE}")
  foreach(_s IN LISTS _sanitizers)
    list(APPEND FAREGATE_SANITIZER_FLAGS "-fsanitize=${_s}")
  endforeach()
  list(APPEND FAREGATE_SANITIZER_FLAGS -fno-omit-frame-pointer)
  add_compile_options(${FAREGATE_SANITIZER_FLAGS})
  add_link_options(${FAREGATE_SANITIZER_FLAGS})
endif()

# faregate_strict(target): apply the project's warning set to one of our own targets.
function(faregate_strict target)
  target_compile_options(${target} PRIVATE ${FAREGATE_WARNINGS})
endfunction()

# faregate_library(name SOURCES ... DEPS ...): one module = one static library whose public
# headers are included as "folder/header.h" from the repository root.
function(faregate_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  faregate_strict(${name})
endfunction()

# faregate_executable(name SOURCES ... DEPS ...)
function(faregate_executable name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  faregate_strict(${name})
endfunction()
