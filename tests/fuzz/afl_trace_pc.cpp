// Coverage feedback for AFL++ from g++'s own instrumentation. With -fsanitize-coverage=trace-pc,
// g++ calls __sanitizer_cov_trace_pc at the start of every basic block; this hook turns those
// calls into AFL's edge map (the same "previous block XOR current block" scheme as AFL's own
// instrumentation), which afl-compiler-rt.o shares with afl-fuzz. With trace-cmp, g++ also reports
// every comparison; afl-compiler-rt.o implements those hooks for CmpLog (afl-fuzz -c 0), except
// the floating-point ones, defined here as no-ops because AFL++ has no use for them.
//
// Why not AFL++'s GCC plugin: Debian 12's afl++ 4.04c plugin was built against gcc 12.2.0-14 and
// refuses to load into 12.2.0-14+deb12u1 (GCC checks its exact configure line). g++'s built-in
// SanitizerCoverage needs no plugin and follows whatever g++ the machine has.
//
// This file must itself be compiled without -fsanitize-coverage (it would call itself).
#include <cstdint>

extern "C" {
// afl-compiler-rt.o: the edge map, pointed at afl-fuzz's shared memory once the fork server
// starts, and at a private buffer of 2 MiB before that.
extern std::uint8_t* __afl_area_ptr;
// The linker's symbol for the start of the executable: block addresses are taken relative to it,
// so that the same block gets the same map entry in every run despite address randomisation.
extern const char __executable_start;
}

namespace {
// AFL++'s default map size (MAP_SIZE), which afl-fuzz uses for a target that does not announce
// another one; a power of two, so a mask picks the entry.
constexpr std::uintptr_t kMapSize = 1u << 16;
thread_local std::uintptr_t previous_block = 0;
}  // namespace

extern "C" {

void __sanitizer_cov_trace_pc() {
  const auto pc = reinterpret_cast<std::uintptr_t>(__builtin_return_address(0)) -
                  reinterpret_cast<std::uintptr_t>(&__executable_start);
  // Mix the low bits (call sites a few bytes apart) with higher ones before masking.
  const std::uintptr_t block = ((pc >> 4) ^ (pc << 8) ^ (pc >> 16)) & (kMapSize - 1);
  // Never zero: a counter that wraps from 255 stays at 1, so a hot edge is not forgotten.
  std::uint8_t& hits = __afl_area_ptr[block ^ previous_block];
  hits = static_cast<std::uint8_t>(hits + 1 + (hits == 0xFF));
  // Shifted so that A->B and B->A, and a block looping on itself, land on different entries.
  previous_block = block >> 1;
}

void __sanitizer_cov_trace_cmpf(float, float) {}
void __sanitizer_cov_trace_cmpd(double, double) {}

}  // extern "C"
